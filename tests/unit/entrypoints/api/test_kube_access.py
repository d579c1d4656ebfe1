"""The API with Kubernetes identity: TokenReview and SubjectAccessReview answered through an httpx
MockTransport (the real API server's tests are under tests/integration/realkube)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from api_world import SEEN, client_of, rollout, seed

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.connection import Connection
from serinus.adapters.kube.reviews import Reviews
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app.metrics import SerinusMetrics
from serinus.core.errors import NotFound
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.kube_access import KubernetesAccess

OPERATIONS = ("promote", "abort", "retry", "pause", "resume", "undo")
USERS = {
    "t-vera": ("vera@corp", ["viewers", "system:authenticated"]),
    "t-dan": ("dan@corp", ["deployers", "system:authenticated"]),
    "t-ann": ("ann@corp", ["approvers", "system:authenticated"]),
    "t-sre": ("sre@corp", ["sre", "system:authenticated"]),
    "t-nora": ("nora@corp", ["system:authenticated"]),
    "t-none": ("nobody@corp", ["system:authenticated"]),
}
# What RBAC grants in namespace "default", by group, on rollouts.serinus.io.
GROUP_VERBS = {
    "viewers": {"get"},
    "deployers": {"get", *OPERATIONS},
    "approvers": {"get", "judge"},
    "sre": {"get", "judge", "judge-sre-lead", *OPERATIONS},
}
# nora may get only the rollout named "paused" (a Role with resourceNames).
NAMED = {("nora@corp", "get", "paused")}


@dataclass
class FakeApiServer:
    """Answers the two review APIs as RBAC would; records every review it was asked."""

    reviews: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.failing:
            return httpx.Response(500, json={"kind": "Status", "message": "etcd is down"})
        body = json.loads(request.content)
        self.reviews.append(body)
        if request.url.path == "/apis/authentication.k8s.io/v1/tokenreviews":
            user = USERS.get(body["spec"]["token"])
            status: dict[str, Any] = {"authenticated": False}
            if user is not None:
                status = {
                    "authenticated": True,
                    "user": {"username": user[0], "uid": "u-" + user[0], "groups": user[1]},
                }
            return httpx.Response(201, json={**body, "status": status})
        assert request.url.path == "/apis/authorization.k8s.io/v1/subjectaccessreviews"
        spec = body["spec"]
        attributes = spec["resourceAttributes"]
        assert (attributes["group"], attributes["resource"]) == ("serinus.io", "rollouts")
        verb, name = attributes["verb"], attributes.get("name")
        allowed = attributes["namespace"] == "default" and (
            any(verb in GROUP_VERBS.get(group, set()) for group in spec["groups"])
            or (spec["user"], verb, name) in NAMED
        )
        return httpx.Response(201, json={**body, "status": {"allowed": allowed}})

    def asked(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.reviews if r["kind"] == kind]


@dataclass
class KubeApi:
    server: FakeApiServer
    store: MemoryStateStore
    client: httpx.AsyncClient

    async def get(self, path: str, token: str = "t-vera") -> httpx.Response:
        return await self.client.get(path, headers={"Authorization": f"Bearer {token}"})

    async def post(self, path: str, body: Any, token: str) -> httpx.Response:
        return await self.client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def kube_api() -> AsyncIterator[KubeApi]:
    server = FakeApiServer()
    connection = Connection.plain("https://kube.test", token="operator-sa-token")
    kube = KubeClient(connection, transport=httpx.MockTransport(server.handle))
    store = MemoryStateStore()
    await seed(store)
    access = KubernetesAccess(Reviews(kube))
    app = create_app(store, access, metrics=SerinusMetrics(), intent_key=b"k" * 32)
    async with client_of(app) as client:
        yield KubeApi(server, store, client)
    await kube.close()


async def test_the_audit_names_the_user_and_groups_the_api_server_authenticated(
    kube_api: KubeApi,
) -> None:
    response = await kube_api.post(
        "/api/v1/rollouts/judged/judge", {"approve": False, **SEEN}, "t-ann"
    )
    assert response.status_code == 202, response.text
    assert response.json()["actor"] == "ann@corp"
    assert response.json()["groups"] == ["approvers", "system:authenticated"]
    [intent] = await kube_api.store.intents("judged")
    assert (intent.actor, intent.groups) == ("ann@corp", ("approvers", "system:authenticated"))
    assert intent.proof  # sealed by the operator's key
    me = (await kube_api.get("/api/v1/whoami", "t-ann")).json()
    assert me == {"name": "ann@corp", "roles": [], "groups": ["approvers", "system:authenticated"]}
    [review] = kube_api.server.asked("TokenReview")  # cached afterwards
    assert review["spec"] == {"token": "t-ann"}


async def test_a_token_the_api_server_does_not_accept_is_401(kube_api: KubeApi) -> None:
    response = await kube_api.get("/api/v1/rollouts", "t-forged")
    assert response.status_code == 401
    assert "TokenReview" in response.json()["detail"]


@pytest.mark.parametrize(
    ("token", "path", "body", "code", "verb"),
    [
        ("t-vera", "paused/promote", {}, 403, "promote"),
        ("t-ann", "judged/abort", {}, 403, "abort"),
        ("t-dan", "judged/abort", {}, 202, None),
        (
            "t-dan",
            "judged/judge",
            {"approve": True, "inputs": {"ticket": "T"}, **SEEN},
            403,
            "judge",
        ),
        # A deployer cannot skip the judgement with a full promotion: RBAC's judge is needed.
        ("t-dan", "judged/promote", {"full": True}, 403, "judge"),
        ("t-ann", "judged/judge", {"approve": True, "inputs": {"ticket": "T"}, **SEEN}, 202, None),
        # requiredRoles: [sre-lead] maps to the verb judge-sre-lead.
        ("t-ann", "gated/judge", {"approve": True, **SEEN}, 403, "judge-sre-lead"),
        ("t-sre", "gated/judge", {"approve": True, **SEEN}, 202, None),
        ("t-dan", "gated/promote", {"full": True}, 403, "judge"),
        ("t-sre", "gated/promote", {"full": True}, 202, None),
        ("t-none", "done/undo", {}, 403, "undo"),
        ("t-dan", "done/undo", {}, 202, None),
    ],
)
async def test_rbac_verbs_decide_every_operation(
    kube_api: KubeApi, token: str, path: str, body: dict[str, Any], code: int, verb: str | None
) -> None:
    response = await kube_api.post(f"/api/v1/rollouts/{path}", body, token)
    assert response.status_code == code, response.text
    name = path.split("/")[0]
    if verb is None:
        return
    detail = response.json()["detail"]
    assert "Kubernetes RBAC: " in detail and verb in detail and "rollouts.serinus.io" in detail
    assert await kube_api.store.intents(name) == []
    asked = kube_api.server.asked("SubjectAccessReview")
    assert any(
        r["spec"]["resourceAttributes"]
        == {
            "namespace": "default",
            "verb": verb,
            "group": "serinus.io",
            "resource": "rollouts",
            "name": name,
        }
        for r in asked
    )


async def test_the_list_holds_only_what_the_user_may_get(kube_api: KubeApi) -> None:
    everything = {r["name"] for r in (await kube_api.get("/api/v1/rollouts", "t-vera")).json()}
    assert everything == {"judged", "gated", "paused", "aborted", "done", "fresh"}
    only = (await kube_api.get("/api/v1/rollouts", "t-nora")).json()
    assert [r["name"] for r in only] == ["paused"]
    assert (await kube_api.get("/api/v1/rollouts/judged", "t-nora")).status_code == 403
    assert (await kube_api.get("/api/v1/rollouts", "t-none")).json() == []


async def test_the_page_offers_what_rbac_allows(kube_api: KubeApi) -> None:
    page = (await kube_api.get("/api/v1/rollouts/gated", "t-ann")).json()
    assert page["allowedOperations"] == []
    assert page["judgement"]["canJudge"] is False
    assert "judge-sre-lead" in page["judgement"]["cannotJudgeReason"]
    page = (await kube_api.get("/api/v1/rollouts/gated", "t-sre")).json()
    assert page["judgement"]["canJudge"] is True
    # undo: there is no previous version; retry and resume do not apply now.
    assert set(page["allowedOperations"]) == {"promote-full", "abort", "pause", "judge"}


async def test_answers_are_cached_briefly(kube_api: KubeApi) -> None:
    for _ in range(5):
        assert (await kube_api.get("/api/v1/rollouts/paused", "t-dan")).status_code == 200
    assert len(kube_api.server.asked("TokenReview")) == 1
    first = len(kube_api.server.asked("SubjectAccessReview"))
    await kube_api.get("/api/v1/rollouts/paused", "t-dan")
    assert len(kube_api.server.asked("SubjectAccessReview")) == first


async def test_a_failing_api_server_is_503_and_never_an_allowed(kube_api: KubeApi) -> None:
    kube_api.server.failing = True
    response = await kube_api.post("/api/v1/rollouts/judged/abort", {}, "t-dan")
    assert response.status_code == 503
    assert "tokenreviews" in response.json()["detail"]
    assert await kube_api.store.intents("judged") == []


class TwoNamespaces:
    """A directory over two memory stores (the operator's KubeDirectory is tested for real)."""

    default = "default"

    def __init__(self, stores: dict[str, MemoryStateStore]) -> None:
        self.stores = stores

    def store(self, namespace: str | None) -> MemoryStateStore:
        chosen = namespace or self.default
        if chosen not in self.stores:
            raise NotFound(f"namespace {chosen!r} is not one this API shows")
        return self.stores[chosen]

    async def namespaces(self) -> list[str]:
        return sorted(self.stores)


async def test_every_namespace_shown_and_filtered_by_get(kube_api: KubeApi) -> None:
    elsewhere = MemoryStateStore()
    other = rollout("other", [{"setWeight": 10}])
    await elsewhere.submit(
        other.model_copy(
            update={"metadata": other.metadata.model_copy(update={"namespace": "shop"})}
        )
    )
    directory = TwoNamespaces({"default": kube_api.store, "shop": elsewhere})
    connection = Connection.plain("https://kube.test", token="operator-sa-token")
    kube = KubeClient(connection, transport=httpx.MockTransport(kube_api.server.handle))
    app = create_app(
        kube_api.store,
        KubernetesAccess(Reviews(kube)),
        metrics=SerinusMetrics(),
        directory=directory,
    )
    headers = {"Authorization": "Bearer t-vera"}
    async with client_of(app) as client:
        listed = (await client.get("/api/v1/rollouts", headers=headers)).json()
        # RBAC grants vera get in "default" only: "shop" is listed, its rollout filtered out.
        assert {r["namespace"] for r in listed} == {"default"}
        asked = [
            r["spec"]["resourceAttributes"] for r in kube_api.server.asked("SubjectAccessReview")
        ]
        assert {
            "namespace": "shop",
            "verb": "get",
            "group": "serinus.io",
            "resource": "rollouts",
        } in asked
        hidden = await client.get("/api/v1/rollouts/other?namespace=shop", headers=headers)
        assert hidden.status_code == 403
        missing = await client.get("/api/v1/rollouts/other?namespace=nowhere", headers=headers)
        assert missing.status_code == 404 and "nowhere" in missing.json()["detail"]
        found = await client.get("/api/v1/rollouts/judged?namespace=default", headers=headers)
        assert found.status_code == 200
    await kube.close()
