"""A dead HAProxy the router runs comes back from its configuration (issue 8): as soon as it
dies (the router watches it), and at the latest at the next port call.

Regression: after kill -9 of HAProxy every request failed and the driver only repeated "cannot
talk to HAProxy". Now it is started again from the configuration rendered from the router
state, so weights, endpoints, header routes and preview are all back at once. The tests of the
port-call path use a router that does not watch, so only the call can bring HAProxy back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
import pytest
from tests.integration.adapters.routers.haproxy.backends import Backends, requires_haproxy
from tests.integration.adapters.routers.haproxy.test_router import (  # noqa: F401
    TESTERS,
    assert_resumed,
    backends,
    make_router,
    prepared_router,
    router,
    tally,
    url,
)

from serinus.adapters.routers.haproxy import HaproxyRouter
from serinus.adapters.routers.haproxy.runtime import RuntimeApi
from serinus.core.errors import RouterError
from serinus.core.spec import HaproxyRouting

pytestmark = pytest.mark.integration


@pytest.fixture
async def unwatched(tmp_path: Path, backends: Backends) -> AsyncIterator[HaproxyRouter]:  # noqa: F811
    """As the `router` fixture, without the watch: only a port call can bring HAProxy back."""
    async with prepared_router(make_router(tmp_path / "state", watch=False), backends) as built:
        yield built


async def kill_haproxy(router: HaproxyRouter) -> float:  # noqa: F811
    """SIGKILL the master and its workers, wait until none runs; returns when they were killed.

    Not `psutil.wait_procs`: HAProxy is daemonized, so its zombies are init's to collect, and
    waiting for that measured init's reaping (about 2 s here), not HAProxy."""
    pid = router.process.running_pid()
    assert pid is not None
    master = psutil.Process(pid)
    family = [master, *master.children(recursive=True)]
    for process in family:
        process.kill()
    killed = time.monotonic()
    deadline = killed + 5
    while any(_alive(process.pid) for process in family):
        assert time.monotonic() < deadline, f"HAProxy processes survived SIGKILL: {family}"
        await asyncio.sleep(0.005)
    return killed


@requires_haproxy
async def test_a_killed_haproxy_is_started_again_with_everything_it_served(
    unwatched: HaproxyRouter,
    backends: Backends,  # noqa: F811
) -> None:
    await unwatched.set_weights({"blue": 30, "green": 70})
    await unwatched.set_header_route("testers", TESTERS, "blue")
    await unwatched.set_preview("green")
    await kill_haproxy(unwatched)
    with pytest.raises(httpx.TransportError):
        httpx.get(url(unwatched), timeout=1.0)

    started = time.monotonic()
    await unwatched.sync_endpoints("blue", backends.endpoints("blue"))  # the engine's next call
    first = httpx.get(url(unwatched), timeout=5.0)
    print(f"\nfirst answer {time.monotonic() - started:.3f} s after the next sync_endpoints")
    assert first.status_code == 200
    answers = await tally(unwatched, 1000)
    assert unwatched.restarts == 1
    assert answers["failed"] == 0
    assert abs(answers["green"] / 10 - 70) < 5, answers
    await assert_resumed(unwatched, {"blue": 30, "green": 70}, testers="blue", preview="green")


@requires_haproxy
async def test_every_port_call_brings_a_dead_haproxy_back(unwatched: HaproxyRouter) -> None:
    calls = [
        unwatched.read_weights(),
        unwatched.set_weights({"blue": 60, "green": 40}),
        unwatched.set_header_route("testers", TESTERS, "green"),
        unwatched.remove_header_route("testers"),
        unwatched.set_preview("blue"),
    ]
    for call in calls:
        await kill_haproxy(unwatched)
        await call
        assert unwatched.process.running_pid() is not None
    assert unwatched.restarts == len(calls)
    assert await unwatched.read_weights() == {"blue": 60, "green": 40}


@requires_haproxy
async def test_an_attached_haproxy_is_never_started_by_serinus(unwatched: HaproxyRouter) -> None:
    attached = make_router(
        unwatched.state_dir,
        HaproxyRouting(
            port=unwatched.routing.port,
            previewPort=unwatched.routing.preview_port,
            attach=True,
            adminSocket=str(unwatched.inputs.admin_socket),
        ),
    )
    await attached.prepare()
    await kill_haproxy(unwatched)
    with pytest.raises(Exception, match="cannot talk to HAProxy"):
        await attached.read_weights()
    assert attached.restarts == 0 and unwatched.process.running_pid() is None


@requires_haproxy
async def test_with_the_state_folder_removed_haproxy_is_found_adopted_and_stopped(
    unwatched: HaproxyRouter,
    backends: Backends,  # noqa: F811
) -> None:
    """Regression: a new run failed with "port already in use" and delete left HAProxy running."""
    pid = unwatched.process.running_pid()
    for leftover in unwatched.state_dir.iterdir():  # the admin socket too: the old one is deaf
        leftover.unlink()
    again = make_router(unwatched.state_dir, unwatched.routing)
    await again.prepare()  # found, replaced; before: "port already in use"
    assert again.process.running_pid() not in (None, pid)
    assert not _alive(pid)
    await again.sync_endpoints("blue", backends.endpoints("blue"))
    await again.set_weights({"blue": 100})
    assert (await tally(again, 20))["blue"] == 20
    for leftover in unwatched.state_dir.iterdir():
        leftover.unlink()
    await again.close()  # its `serinus run` ends
    await make_router(unwatched.state_dir, unwatched.routing).stop()  # `serinus delete`
    assert [p for p in psutil.process_iter() if str(again.config_path) in _cmdline(p)] == []


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return [str(part) for part in process.cmdline()]
    except psutil.Error:
        return []


@requires_haproxy
async def test_a_killed_haproxy_is_back_at_once_without_any_call(
    router: HaproxyRouter,  # noqa: F811
) -> None:
    """The router watches the master it started: no port call (no reconcile) is needed."""
    await router.set_weights({"blue": 30, "green": 70})
    await router.set_header_route("testers", TESTERS, "blue")
    await router.set_preview("green")
    killed = await kill_haproxy(router)
    back = await first_answer(router, deadline=killed + 10)
    print(f"\nfirst answer {back - killed:.3f} s after kill -9, no port call")
    await assert_resumed(router, {"blue": 30, "green": 70}, testers="blue", preview="green")
    assert router.restarts == 1
    answers = await tally(router, 1000)
    assert answers["failed"] == 0
    assert abs(answers["green"] / 10 - 70) < 5, answers


@requires_haproxy
async def test_a_stopped_haproxy_is_not_started_again_by_any_router(
    router: HaproxyRouter,  # noqa: F811
) -> None:
    """`stop()` ends the traffic on purpose: neither this router's watch nor that of another
    router on the same folder (a second one in this process) starts HAProxy again."""
    other = make_router(router.state_dir, router.routing)
    await other.prepare()  # adopts, and watches the same master
    pid = router.process.running_pid()
    assert pid is not None and other.process.running_pid() == pid
    assert other.watched_pid == pid
    await router.stop()
    deadline = time.monotonic() + 10
    while other.watched_pid == pid:  # until `other` has seen it die
        assert time.monotonic() < deadline, "the other router never noticed HAProxy end"
        await asyncio.sleep(0.005)
    await other.close()  # after any revival it began
    assert other.restarts == 0, "the other router started the stopped HAProxy again"
    assert router.process.running_pid() is None and router.restarts == 0


class MissingFirstAnswers(RuntimeApi):
    """The admin socket of a busy machine: the first `show info` commands get no answer."""

    def __init__(self, runtime: RuntimeApi, misses: int) -> None:
        super().__init__(runtime.socket_path, runtime.timeout, runtime.on_command)
        self.misses = misses

    async def execute(self, command: str) -> str:
        if command == "show info" and self.misses > 0:
            self.misses -= 1
            raise RouterError(f"HAProxy admin socket {self.socket_path} did not answer")
        return await super().execute(command)


@requires_haproxy
async def test_a_live_haproxy_that_misses_admin_commands_is_adopted_not_replaced(
    router: HaproxyRouter,  # noqa: F811
) -> None:
    """Regression: one unanswered `show info` made a new `serinus run` stop the live HAProxy
    and start another, failing every request in between (a burst of failed requests)."""
    pid = router.process.running_pid()
    worker = await router.runtime.worker_pid()
    successor = make_router(router.state_dir, router.routing)
    successor.runtime = MissingFirstAnswers(successor.runtime, misses=3)
    await successor.prepare()
    assert successor.process.running_pid() == pid
    assert await router.runtime.worker_pid() == worker, "HAProxy was replaced or reloaded"
    assert successor.restarts == 0
    await successor.close()


async def first_answer(router: HaproxyRouter, deadline: float) -> float:  # noqa: F811
    """When HAProxy first answered 200, asking without blocking the event loop."""
    async with httpx.AsyncClient(timeout=0.5) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url(router))).status_code == 200:
                    return time.monotonic()
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.005)
    raise AssertionError("HAProxy did not answer again within the deadline")
