"""The Kubernetes client against httpx.MockTransport: paths, bodies, errors, conflict retry."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from serinus.adapters.kube.client import KubeClient, RetryPolicy
from serinus.adapters.kube.connection import Connection
from serinus.adapters.kube.errors import AlreadyExists, Rejected, StaleWrite
from serinus.adapters.kube.resources import SERVICES, VIRTUAL_SERVICES, ObjectRef
from serinus.core.errors import Forbidden, KubeError, NotFound

VS = ObjectRef(VIRTUAL_SERVICES, "shop", "web")
FAST = RetryPolicy(attempts=4, base_delay=0.0, max_delay=0.0, rng=random.Random(1))


def client(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> KubeClient:
    connection = Connection.plain("https://api.test:6443", token="t0ken")
    return KubeClient(connection, transport=httpx.MockTransport(handler), **options)


def status(code: int, message: str) -> httpx.Response:
    return httpx.Response(code, json={"kind": "Status", "code": code, "message": message})


async def test_requests_carry_the_token_and_use_the_resource_paths() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "metadata": {"resourceVersion": "9"}})

    async with client(handler) as kube:
        listed = await kube.list(SERVICES, "shop", label_selector="app=web")
        await kube.get(VS)
    assert listed.resource_version == "9"
    assert seen[0].url.path == "/api/v1/namespaces/shop/services"
    assert seen[0].url.params["labelSelector"] == "app=web"
    assert seen[1].url.path == "/apis/networking.istio.io/v1/namespaces/shop/virtualservices/web"
    assert all(r.headers["Authorization"] == "Bearer t0ken" for r in seen)


@pytest.mark.parametrize(
    ("kind", "body", "content_type"),
    [
        ("merge", {"spec": {"x": 1}}, "application/merge-patch+json"),
        ("json", [{"op": "add", "path": "/a", "value": 1}], "application/json-patch+json"),
        ("strategic", {"spec": {}}, "application/strategic-merge-patch+json"),
    ],
)
async def test_patch_content_types(kind: Any, body: Any, content_type: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with client(handler) as kube:
        await kube.patch(VS, body, kind=kind)
    assert seen[0].method == "PATCH"
    assert seen[0].headers["Content-Type"] == content_type
    assert json.loads(seen[0].content) == body


@pytest.mark.parametrize(
    ("code", "error", "words"),
    [
        (401, Forbidden, ["unauthorized", "https://api.test:6443", 'namespace "shop"']),
        (403, Forbidden, ["may not update", "virtualservices.networking.istio.io", '"shop"']),
        (404, NotFound, ['virtualservices.networking.istio.io "web"', 'namespace "shop"']),
        (409, StaleWrite, ["changed by someone else"]),
        (422, Rejected, ["rejected update", "bad weight"]),
        (500, KubeError, ["HTTP 500"]),
    ],
)
async def test_errors_name_what_was_attempted(
    code: int, error: type[Exception], words: list[str]
) -> None:
    async with client(lambda _: status(code, "bad weight")) as kube:
        with pytest.raises(error) as raised:
            await kube.replace(VS, {"metadata": {"name": "web", "resourceVersion": "1"}})
    for word in words:
        assert word in str(raised.value)


async def test_create_conflict_is_already_exists() -> None:
    async with client(lambda _: status(409, "exists")) as kube:
        with pytest.raises(AlreadyExists, match="already exists"):
            await kube.create(SERVICES, "shop", {"metadata": {"name": "web"}})


async def test_an_unreachable_server_is_named() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client(handler) as kube:
        with pytest.raises(
            KubeError, match=r"cannot reach the Kubernetes API server https://api\.test:6443"
        ):
            await kube.get(VS)


class Server:
    """An object store answering GET and conditional PUT, with scripted conflicts."""

    def __init__(self, conflicts: int) -> None:
        self.obj: dict[str, Any] = {"metadata": {"name": "web", "resourceVersion": "1"}, "n": 0}
        self.conflicts = conflicts
        self.puts: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=self.obj)
        body = json.loads(request.content)
        self.puts.append(body)
        if self.conflicts > 0:  # another writer got there first
            self.conflicts -= 1
            version = int(self.obj["metadata"]["resourceVersion"]) + 1
            self.obj = {
                **self.obj,
                "other": version,
                "metadata": {"name": "web", "resourceVersion": str(version)},
            }
            return status(409, "the object has been modified")
        if body["metadata"]["resourceVersion"] != self.obj["metadata"]["resourceVersion"]:
            return status(409, "stale")
        version = int(self.obj["metadata"]["resourceVersion"]) + 1
        self.obj = {**body, "metadata": {"name": "web", "resourceVersion": str(version)}}
        return httpx.Response(200, json=self.obj)


def increment(obj: dict[str, Any]) -> dict[str, Any]:
    obj["n"] += 1
    obj["metadata"]["resourceVersion"] = "999"  # a mutation cannot pick the version it writes
    return obj


async def test_read_modify_write_retries_conflicts_and_keeps_the_other_writers_change() -> None:
    server = Server(conflicts=2)
    async with client(server, retry=FAST) as kube:
        written = await kube.read_modify_write(VS, increment)
    assert len(server.puts) == 3
    assert [p["metadata"]["resourceVersion"] for p in server.puts] == ["1", "2", "3"]
    assert written["n"] == 1 and written["other"] == 3


async def test_read_modify_write_gives_up_after_the_attempts() -> None:
    server = Server(conflicts=10)
    async with client(server, retry=FAST) as kube:
        with pytest.raises(StaleWrite, match="4 attempts"):
            await kube.read_modify_write(VS, increment)
    assert len(server.puts) == 4


@pytest.mark.parametrize("mutation", [lambda obj: None, lambda obj: obj])
async def test_read_modify_write_does_not_write_when_nothing_changes(
    mutation: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> None:
    server = Server(conflicts=0)
    async with client(server) as kube:
        await kube.read_modify_write(VS, mutation)
    assert server.puts == []


def test_retry_delays_grow_with_jitter_and_stay_capped() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=0.5, rng=random.Random(3))
    delays = [policy.delay(attempt) for attempt in range(6)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(0.25 <= d <= 0.5 for d in delays[3:])
