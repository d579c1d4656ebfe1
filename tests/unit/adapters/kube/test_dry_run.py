"""The dry-run client's guards without a server: every request that is not a read carries
`dryRun=All` (whatever method sent it), the plan's writes form the view later reads see, and an
object only the plan created is never sent as an update or a delete. The real API server's side
is in tests/integration/realkube/test_plan_dry_run.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.connection import Connection
from serinus.adapters.kube.dry_run import USER_AGENT, DryRunClient, DryRunTransport
from serinus.adapters.kube.resources import CONFIGMAPS, ObjectRef
from serinus.core.errors import NotFound

NAMESPACE = "shop"
LIVE = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "live", "namespace": NAMESPACE, "resourceVersion": "7", "labels": {}},
    "data": {"a": "1"},
}


class Server:
    """Answers like an API server's dry-run: the body back, nothing kept."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET":
            if request.url.path.endswith("/configmaps/live"):
                return httpx.Response(200, json=LIVE)
            if request.url.path.endswith("/configmaps"):
                return httpx.Response(200, json={"items": [LIVE], "metadata": {}})
            return httpx.Response(404, json={"message": "not found"})
        if request.method == "DELETE":
            return httpx.Response(200, json={"kind": "Status", "status": "Success"})
        return httpx.Response(200, json=json.loads(request.content))

    def writes(self) -> list[tuple[str, str, str | None]]:
        return [
            (r.method, r.url.path.rsplit("/", 1)[-1], r.url.params.get("dryRun"))
            for r in self.requests
            if r.method != "GET"
        ]


def client(server: Server) -> DryRunClient:
    return DryRunClient(Connection.plain("https://kube.test"), inner=httpx.MockTransport(server))


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_the_transport_adds_dry_run_to_every_write_whoever_sends_it() -> None:
    server = Server()
    plain = KubeClient(
        Connection.plain("https://kube.test"),
        transport=DryRunTransport(httpx.MockTransport(server)),
    )
    ref = ObjectRef(CONFIGMAPS, NAMESPACE, "live")
    await plain.create(CONFIGMAPS, NAMESPACE, configmap("new"))
    await plain.replace(ref, LIVE)
    await plain.patch(ref, {"data": {"a": "2"}})
    await plain.delete(ref)
    await plain.get(ref)
    await plain.close()
    assert [(method, dry) for method, _, dry in server.writes()] == [
        ("POST", "All"),
        ("PUT", "All"),
        ("PATCH", "All"),
        ("DELETE", "All"),
    ]
    assert server.requests[-1].url.params.get("dryRun") is None  # a read is a read
    assert {r.headers["User-Agent"] for r in server.requests} == {USER_AGENT}


async def test_reads_see_the_plans_writes_and_a_planned_object_is_never_updated() -> None:
    server = Server()
    dry = client(server)
    ref = ObjectRef(CONFIGMAPS, NAMESPACE, "new")
    await dry.create(CONFIGMAPS, NAMESPACE, configmap("new", a="1"))
    await dry.read_modify_write(ref, lambda c: {**c, "data": {"a": "2"}})
    assert (await dry.get(ref))["data"] == {"a": "2"}
    listed = await dry.list(CONFIGMAPS, NAMESPACE)
    assert sorted(item["metadata"]["name"] for item in listed.items) == ["live", "new"]
    await dry.delete(ref)
    with pytest.raises(NotFound):
        await dry.get(ref)
    assert await dry.delete(ref, missing_ok=True) is None
    await dry.close()
    # the update of an object only the plan created is checked as a create; its delete not sent
    assert server.writes() == [("POST", "configmaps", "All"), ("POST", "configmaps", "All")]
    assert [(w.verb, w.checked) for w in dry.writes] == [
        ("create", True),
        ("update", True),
        ("delete", False),
    ]


async def test_a_live_object_deleted_then_created_again_is_checked_as_its_update() -> None:
    server = Server()
    dry = client(server)
    ref = ObjectRef(CONFIGMAPS, NAMESPACE, "live")
    await dry.read_modify_write(ref, lambda c: {**c, "data": {"a": "2"}})
    assert (await dry.get(ref))["metadata"]["resourceVersion"] == "7"  # the live one's
    await dry.delete(ref)
    assert [i["metadata"]["name"] for i in (await dry.list(CONFIGMAPS, NAMESPACE)).items] == []
    await dry.create(CONFIGMAPS, NAMESPACE, configmap("live", a="3"))
    await dry.close()
    assert server.writes() == [
        ("PUT", "live", "All"),
        ("DELETE", "live", "All"),
        ("PUT", "live", "All"),
    ]
    again = json.loads(server.requests[-1].content)
    assert again["metadata"]["resourceVersion"] == "7"
