"""The watch cache: one LIST + WATCH per resource and namespace, reads served from it."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from serinus.adapters.kube.cache import Informer, SelectorError, matches
from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.connection import Connection
from serinus.adapters.kube.resources import PODS, VIRTUAL_SERVICES, ObjectRef

NS = "shop"


class FakeServer:
    """Pods of one namespace with resourceVersions, a watch fed from a queue, request counts."""

    def __init__(self, *, watch_code: int = 200) -> None:
        self.version = 0
        self.objects: dict[str, dict[str, Any]] = {}
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.requests: collections.Counter[str] = collections.Counter()
        self.watch_code = watch_code
        self.watch_versions: list[str | None] = []

    def put(self, name: str, labels: dict[str, str], kind: str = "MODIFIED") -> dict[str, Any]:
        self.version += 1
        obj = {"metadata": {"name": name, "namespace": NS, "labels": labels}}
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[name] = obj
        self.events.put_nowait({"type": kind, "object": obj})
        return obj

    def handler(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if params.get("watch") == "true":
            self.requests["watch"] += 1
            self.watch_versions.append(params.get("resourceVersion"))
            if self.watch_code != 200:
                return httpx.Response(self.watch_code, json={"kind": "Status", "message": "no"})
            return httpx.Response(200, content=self._stream())
        if request.method == "GET" and request.url.path.endswith("/pods"):
            self.requests["list"] += 1
            items = list(self.objects.values())
            meta = {"resourceVersion": str(self.version)}
            return httpx.Response(200, json={"items": items, "metadata": meta})
        if request.method == "PUT":
            self.requests["update"] += 1
            body = json.loads(request.content)
            name = body["metadata"]["name"]
            if (
                body["metadata"].get("resourceVersion")
                != self.objects[name]["metadata"]["resourceVersion"]
            ):
                return httpx.Response(409, json={"kind": "Status", "reason": "Conflict"})
            return httpx.Response(200, json=self.put(name, body["metadata"]["labels"]))
        self.requests["get"] += 1
        name = request.url.path.rsplit("/", 1)[-1]
        if name not in self.objects:
            return httpx.Response(404, json={"kind": "Status", "reason": "NotFound"})
        return httpx.Response(200, json=self.objects[name])

    async def _stream(self) -> AsyncIterator[bytes]:
        while (event := await self.events.get()) is not None:
            yield (json.dumps(event) + "\n").encode()

    def drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()


def write_behind_the_watch(server: FakeServer, labels: dict[str, str]) -> asyncio.Queue[Any]:
    """Another writer's version of web-1 on the server, its watch event held back; returns the
    held events (put them back as `server.events`)."""
    held = server.events
    server.events = asyncio.Queue()
    server.version += 1
    server.objects["web-1"] = {
        "metadata": {
            "name": "web-1",
            "namespace": NS,
            "labels": labels,
            "resourceVersion": str(server.version),
        }
    }
    return held


def one_pod_server() -> FakeServer:
    """A server holding the pod web-1 (app=web), its event already consumed."""
    server = FakeServer()
    server.put("web-1", {"app": "web"})
    server.drain()
    return server


def cached_client(server: FakeServer) -> KubeClient:
    connection = Connection.plain("https://api.test:6443", token="t0ken")
    client = KubeClient(connection, transport=httpx.MockTransport(server.handler))
    client.enable_cache([PODS])
    return client


def labelled(key: str, value: str) -> Any:
    """A read-modify-write change setting one label."""

    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["labels"][key] = value
        return obj

    return mutate


async def until(check: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.005)


async def synced(client: KubeClient) -> None:
    await client.list(PODS, NS)  # starts the informer; answered by the server
    assert client.cache is not None
    await asyncio.wait_for(client.cache.informers[(PODS, NS)].synced.wait(), 5.0)


async def test_reads_are_served_from_one_list_and_watch() -> None:
    server = FakeServer()
    server.put("web-1", {"app": "web"})
    server.put("db-1", {"app": "db"})
    server.drain()
    async with cached_client(server) as client:
        await synced(client)
        for _ in range(20):
            listed = await client.list(PODS, NS, label_selector="app=web")
            assert [p["metadata"]["name"] for p in listed.items] == ["web-1"]
            pod = await client.get(ObjectRef(PODS, NS, "db-1"))
            assert pod["metadata"]["labels"] == {"app": "db"}
        # One list by the caller before the cache was synced, one by the informer; no GETs.
        assert server.requests == {"list": 2, "watch": 1}


async def test_a_change_on_the_server_reaches_the_cache_and_its_listeners() -> None:
    server = FakeServer()
    seen: list[tuple[str, str]] = []
    async with cached_client(server) as client:
        assert client.cache is not None
        client.cache.subscribe(lambda _, kind, obj: seen.append((kind, obj["metadata"]["name"])))
        await synced(client)
        server.put("web-2", {"app": "web"}, kind="ADDED")
        await until(lambda: ("ADDED", "web-2") in seen)
        listed = await client.list(PODS, NS, label_selector="app=web")
        assert [p["metadata"]["name"] for p in listed.items] == ["web-2"]


async def test_an_expired_watch_lists_again_and_resumes_from_the_new_version() -> None:
    server = one_pod_server()
    async with cached_client(server) as client:
        await synced(client)
        server.objects.clear()  # deleted while the watch could not tell us
        server.version = 40
        server.events.put_nowait({"type": "ERROR", "object": {"code": 410, "reason": "Expired"}})
        await until(lambda: server.requests["watch"] == 2)
        assert server.watch_versions == ["1", "40"]
        assert (await client.list(PODS, NS)).items == []


async def test_a_forbidden_watch_leaves_reads_to_the_server() -> None:
    server = FakeServer(watch_code=403)
    server.put("web-1", {"app": "web"})
    async with cached_client(server) as client:
        assert client.cache is not None
        await client.list(PODS, NS)
        informer = client.cache.informers[(PODS, NS)]
        await until(lambda: informer.refused)
        await client.list(PODS, NS)
        await client.get(ObjectRef(PODS, NS, "web-1"))
        assert server.requests["list"] == 3  # the caller's two and the informer's one
        assert server.requests["get"] == 1


async def test_our_write_is_read_back_at_once_and_a_conflict_reads_the_server() -> None:
    server = FakeServer()
    server.put("web-1", {"app": "web", "weight": "0"})
    server.drain()
    async with cached_client(server) as client:
        await synced(client)
        ref = ObjectRef(PODS, NS, "web-1")
        await client.read_modify_write(ref, labelled("weight", "10"))
        # Read back before the watch event was processed: the cache holds our write.
        assert (await client.get(ref))["metadata"]["labels"]["weight"] == "10"
        assert server.requests["get"] == 0
        # Someone else writes; the cache lags (events held back): the first PUT conflicts,
        # the retry reads the server and keeps the other writer's change.
        held = write_behind_the_watch(server, {"app": "web", "weight": "10", "owner": "other"})
        written = await client.read_modify_write(ref, labelled("weight", "20"))
        assert written["metadata"]["labels"] == {"app": "web", "weight": "20", "owner": "other"}
        assert server.requests["get"] == 1
        server.events = held


async def test_an_older_event_never_replaces_a_newer_object() -> None:
    server = FakeServer()
    async with cached_client(server) as client:
        await synced(client)
        assert client.cache is not None
        informer = client.cache.informers[(PODS, NS)]
        new = {"metadata": {"name": "a", "namespace": NS, "resourceVersion": "9"}}
        old = {"metadata": {"name": "a", "namespace": NS, "resourceVersion": "7"}}
        informer.observe("MODIFIED", new)
        informer.observe("MODIFIED", old)
        assert informer.get(NS, "a") == new


async def test_listeners_hear_of_others_changes_not_of_our_writes_or_their_echo() -> None:
    server = one_pod_server()
    seen: list[tuple[str, str, str]] = []
    async with cached_client(server) as client:
        assert client.cache is not None
        client.cache.subscribe(
            lambda resource, kind, obj: seen.append(
                (resource.plural, kind, obj["metadata"]["labels"].get("by", ""))
            )
        )
        await synced(client)
        seen.clear()  # the listing's ADDED
        ref = ObjectRef(PODS, NS, "web-1")
        # Our write; its watch event (the echo) follows.
        await client.read_modify_write(ref, labelled("by", "us"))
        server.put("web-1", {"app": "web", "by": "them"})
        await until(lambda: bool(seen))
        assert seen == [("pods", "MODIFIED", "them")]


async def test_a_cached_read_is_a_private_copy() -> None:
    async with cached_client(one_pod_server()) as client:
        await synced(client)
        ref = ObjectRef(PODS, NS, "web-1")
        (await client.get(ref))["metadata"]["labels"]["app"] = "changed"
        (await client.list(PODS, NS)).items[0]["metadata"]["labels"].clear()
        assert (await client.get(ref))["metadata"]["labels"] == {"app": "web"}


async def test_the_status_subresource_is_read_from_the_cache() -> None:
    server = one_pod_server()
    async with cached_client(server) as client:
        await synced(client)
        got = await client.get(ObjectRef(PODS, NS, "web-1"), subresource="status")
        assert got["metadata"]["name"] == "web-1"
        assert server.requests["get"] == 0


async def test_a_cluster_wide_informer_serves_the_reads_of_one_namespace() -> None:
    server = one_pod_server()
    async with cached_client(server) as client:
        assert client.cache is not None
        informer = client.cache.informer(PODS, None)
        assert informer is not None
        await asyncio.wait_for(informer.synced.wait(), 5.0)
        listed = await client.list(PODS, NS, label_selector="app=web")
        assert [p["metadata"]["name"] for p in listed.items] == ["web-1"]
        assert (await client.get(ObjectRef(PODS, NS, "web-1")))["metadata"]["name"] == "web-1"
        assert set(client.cache.informers) == {(PODS, None)}
        assert server.requests == {"list": 1, "watch": 1}


async def test_resources_not_cached_go_to_the_server() -> None:
    server = FakeServer()
    async with cached_client(server) as client:
        assert client.cache is not None
        assert client.cache.informer(VIRTUAL_SERVICES, NS) is None


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier=front", {"app": "web"}, False),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {"app": "web"}, False),
        ("app", {"app": "x"}, True),
        ("!app", {"app": "x"}, False),
        ("", {}, True),
    ],
)
def test_equality_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert matches(selector, labels) is expected


def test_set_based_selectors_are_left_to_the_server() -> None:
    with pytest.raises(SelectorError):
        matches("app in (web,db)", {"app": "web"})


SELECTORS = ["", "app=x", "app==y,tier=x", "tier!=x", "app=x,tier", "!tier", "app=x,tier!=y"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["x", "y"])),
            st.booleans(),
        ),
        max_size=12,
    )
)
def test_the_label_index_selects_what_a_scan_of_every_object_selects(
    changes: list[tuple[str, dict[str, str], bool]],
) -> None:
    informer = Informer(cached_client(FakeServer()), PODS, NS)
    for version, (name, labels, deleted) in enumerate(changes, start=1):
        metadata = {"name": name, "namespace": NS, "labels": labels}
        metadata["resourceVersion"] = str(version)
        informer.observe("DELETED" if deleted else "MODIFIED", {"metadata": metadata})
    for selector in SELECTORS:
        scanned = sorted(
            (o for o in informer.objects.values() if matches(selector, o["metadata"]["labels"])),
            key=lambda o: o["metadata"]["name"],
        )
        assert informer.select(NS, selector) == scanned, selector


async def test_a_cluster_wide_cache_starts_one_informer_for_every_namespace() -> None:
    server = one_pod_server()
    connection = Connection.plain("https://api.test:6443", token="t0ken")
    async with KubeClient(connection, transport=httpx.MockTransport(server.handler)) as client:
        cache = client.enable_cache([PODS], cluster_wide=True)
        await client.list(PODS, NS)
        await client.list(PODS, "other")
        assert set(cache.informers) == {(PODS, None)}
        await asyncio.wait_for(cache.informers[(PODS, None)].synced.wait(), 5.0)
        listed = await client.list(PODS, NS, label_selector="app=web")
        assert [p["metadata"]["name"] for p in listed.items] == ["web-1"]
        assert (await client.list(PODS, "other")).items == []
        assert server.requests["watch"] == 1
