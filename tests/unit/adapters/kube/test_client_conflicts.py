"""read_modify_write with a watch cache: a conflict's other writer is heard, a late copy costs no
backoff (the operator's abort path: its status save conflicts with the abort being recorded)."""

from __future__ import annotations

import random
from typing import Any

from tests.unit.adapters.kube.test_cache import (
    NS,
    FakeServer,
    cached_client,
    labelled,
    synced,
    write_behind_the_watch,
)
from tests.unit.adapters.kube.test_client import Server, client, increment

from serinus.adapters.kube.client import KubeClient, RetryPolicy
from serinus.adapters.kube.resources import PODS, ObjectRef

REF = ObjectRef(PODS, NS, "web-1")


class CountingRandom(random.Random):
    """Records the backoff ceilings asked for; answers no wait at all."""

    def __init__(self) -> None:
        super().__init__(1)
        self.ceilings: list[float] = []

    def uniform(self, a: float, b: float) -> float:
        self.ceilings.append(b)
        return 0.0


def retrying(kube: KubeClient, rng: random.Random) -> None:
    kube.retry = RetryPolicy(attempts=4, base_delay=0.5, max_delay=1.0, rng=rng)


async def test_the_conflicting_writers_version_reaches_the_listeners_before_our_write() -> None:
    # The cache drops a watch event older than what it holds: without being told at the
    # conflict, the listeners (the operator's driver) would never hear of the abort recorded.
    server = FakeServer()
    server.put("web-1", {"app": "web"})
    server.drain()
    heard: list[dict[str, str]] = []
    async with cached_client(server) as kube:
        assert kube.cache is not None
        kube.cache.subscribe(lambda resource, kind, obj: heard.append(obj["metadata"]["labels"]))
        await synced(kube)
        heard.clear()
        held = write_behind_the_watch(server, {"app": "web", "by": "them"})
        written = await kube.read_modify_write(REF, labelled("weight", "50"))
        assert written["metadata"]["labels"] == {"app": "web", "by": "them", "weight": "50"}
        assert heard == [{"app": "web", "by": "them"}]
        server.events = held


async def test_a_conflict_after_a_cached_read_reads_the_server_without_backing_off() -> None:
    server = FakeServer()
    server.put("web-1", {"app": "web"})
    server.drain()
    rng = CountingRandom()
    async with cached_client(server) as kube:
        retrying(kube, rng)
        await synced(kube)
        held = write_behind_the_watch(server, {"app": "web", "by": "them"})
        await kube.read_modify_write(REF, labelled("weight", "50"))
        server.events = held
    assert server.requests["update"] == 2 and server.requests["get"] == 1
    assert rng.ceilings == []


async def test_writers_that_read_the_server_still_back_off_growing() -> None:
    server = Server(conflicts=3)
    rng = CountingRandom()
    async with client(server) as kube:
        retrying(kube, rng)
        await kube.read_modify_write(ObjectRef(PODS, NS, "web"), increment)
    assert len(server.puts) == 4
    assert rng.ceilings == [0.5, 1.0, 1.0]


async def test_a_second_conflict_after_the_servers_copy_backs_off() -> None:
    # Only the conflict after the cached copy is free: once both writers read the server, a
    # conflict is a real race and the writers are spread.
    server = FakeServer()
    server.put("web-1", {"app": "web"})
    server.drain()
    rng = CountingRandom()
    calls = 0

    def racing(obj: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 2:  # the other writer writes again after our server read
            write_behind_the_watch(server, {"app": "web", "by": "them again"})
        obj["metadata"]["labels"]["weight"] = "50"
        return obj

    async with cached_client(server) as kube:
        retrying(kube, rng)
        await synced(kube)
        held = write_behind_the_watch(server, {"app": "web", "by": "them"})
        written = await kube.read_modify_write(REF, racing)
        server.events = held
    assert written["metadata"]["labels"] == {"app": "web", "by": "them again", "weight": "50"}
    assert server.requests["update"] == 3
    assert rng.ceilings == [0.5]
