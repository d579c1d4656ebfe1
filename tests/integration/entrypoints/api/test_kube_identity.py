"""The operator's API against the real kube-apiserver: TokenReview, SubjectAccessReview and RBAC.

Callers are the server's static users (alice in serinus-approvers, bob in developers, carol in
no group); the API reviews with a ServiceAccount bound to `system:auth-delegator` only, and
stores in the real Rollout objects. Nothing here is a stand-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_world import client_of, in_progress, rollout
from fastapi import FastAPI
from real_kube import RealKube
from typer.testing import CliRunner

from serinus.adapters.api_client import API_URL_ENV
from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.reviews import Reviews
from serinus.adapters.platforms.memory import MemoryPlatform
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.app.engine import Engine
from serinus.app.metrics import SerinusMetrics
from serinus.core.intents import Grants, Intent, IntentKind
from serinus.core.status import Phase
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.directory import KubeDirectory, SingleStore
from serinus.entrypoints.api.kube_access import KubernetesAccess
from serinus.entrypoints.api.server import background
from serinus.entrypoints.cli import main

pytestmark = pytest.mark.integration

KEY = b"real-kube-intent-key".ljust(32, b"-")
STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"judgement": {"instructions": "plain"}},
    {"judgement": {"requiredRoles": ["security"]}},
    {"setWeight": 100},
]


def role(ns: str, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": ns},
        "rules": rules,
    }


def binding(ns: str, role_name: str, kind: str, subject: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{role_name}-{subject}".lower(), "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
        "subjects": [{"kind": kind, "name": subject, "apiGroup": "rbac.authorization.k8s.io"}],
    }


def on_rollouts(*verbs: str) -> dict[str, Any]:
    return {"apiGroups": ["serinus.io"], "resources": ["rollouts"], "verbs": list(verbs)}


@dataclass
class Cluster:
    kube: RealKube
    ns: str
    admin: KubeClient
    store: KubernetesStateStore
    api: httpx.AsyncClient
    reviewer: str  # the ServiceAccount the API reviews with
    api_app: FastAPI

    async def call(self, user: str, method: str, path: str, body: Any = None) -> httpx.Response:
        token = self.kube.users[user].token
        return await self.api.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture
async def cluster(real_kube: RealKube) -> AsyncIterator[Cluster]:
    ns = real_kube.new_namespace("api")
    reviewer = "serinus-api"
    token = real_kube.service_account_token(ns, reviewer)
    real_kube.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{ns}-auth-delegator"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:auth-delegator",
            },
            "subjects": [{"kind": "ServiceAccount", "name": reviewer, "namespace": ns}],
        }
    )
    # alice (serinus-approvers) may read and judge; bob (developers) may only read.
    real_kube.apply(role(ns, "approver", [on_rollouts("get", "judge")]))
    real_kube.apply(binding(ns, "approver", "Group", "serinus-approvers"))
    real_kube.apply(role(ns, "viewer", [on_rollouts("get")]))
    real_kube.apply(binding(ns, "viewer", "Group", "developers"))
    async with real_kube.client() as admin, real_kube.client(token, namespace=ns) as operator:
        store = KubernetesStateStore(admin, ns)
        web = rollout("web", STEPS)
        await store.submit(
            web.model_copy(update={"metadata": web.metadata.model_copy(update={"namespace": ns})})
        )
        await store.save(
            "web",
            in_progress(Phase.AWAITING_JUDGEMENT, 1, revision=2, message="awaiting judgement"),
            [],
            [],
        )
        # No cache: each request asks the server, so a grant made mid-test counts at once.
        access = KubernetesAccess(Reviews(operator), cache_seconds=0)
        app = create_app(
            store,
            access,
            metrics=SerinusMetrics(),
            intent_key=KEY,
            directory=SingleStore(store, ns),
        )
        async with client_of(app) as api:
            reviewing = f"system:serviceaccount:{ns}:{reviewer}"
            yield Cluster(real_kube, ns, admin, store, api, reviewing, app)


async def test_a_user_without_the_verb_gets_403_and_the_audit_names_the_real_user(
    cluster: Cluster,
) -> None:
    seen = {"revision": 2, "step": 1}
    assert (await cluster.call("bob", "GET", "/api/v1/rollouts/web")).status_code == 200
    refused = await cluster.call(
        "bob", "POST", "/api/v1/rollouts/web/judge", {"approve": True, **seen}
    )
    assert refused.status_code == 403
    assert "judge needs permission to judge" in refused.json()["detail"]
    assert "bob" in refused.json()["detail"]
    assert (await cluster.call("carol", "GET", "/api/v1/rollouts/web")).status_code == 403
    assert (await cluster.call("carol", "GET", "/api/v1/rollouts")).json() == []

    accepted = await cluster.call(
        "alice", "POST", "/api/v1/rollouts/web/judge", {"approve": True, "comment": "ok", **seen}
    )
    assert accepted.status_code == 202, accepted.text
    audit = (await cluster.call("alice", "GET", "/api/v1/rollouts/web/audit")).json()
    [entry] = audit
    assert entry["actor"] == "alice" and entry["source"] == "api"
    assert {"serinus-approvers", "developers", "system:authenticated"} <= set(entry["groups"])
    # The reviews were asked by the API's ServiceAccount, of the real server.
    kinds = {(e.resource, e.code) for e in cluster.kube.audit_events(cluster.reviewer)}
    assert {("tokenreviews", 201), ("subjectaccessreviews", 201)} <= kinds


async def test_required_roles_map_to_the_verb_judge_role(cluster: Cluster) -> None:
    status = await cluster.store.load("web")
    assert status is not None
    await cluster.store.save("web", status.model_copy(update={"step_index": 2}), [], [])
    seen = {"approve": True, "revision": 2, "step": 2}
    refused = await cluster.call("alice", "POST", "/api/v1/rollouts/web/judge", seen)
    assert refused.status_code == 403
    assert "judge-security" in refused.json()["detail"]
    cluster.kube.apply(role(cluster.ns, "security", [on_rollouts("judge-security")]))
    cluster.kube.apply(binding(cluster.ns, "security", "User", "alice"))
    accepted = await cluster.call("alice", "POST", "/api/v1/rollouts/web/judge", seen)
    assert accepted.status_code == 202, accepted.text


async def test_writing_the_status_directly_cannot_pass_a_role_gated_judgement(
    cluster: Cluster,
) -> None:
    # bob may write the Rollout's status (and the intent-id counter), as `-n` mode CLIs do.
    cluster.kube.apply(
        role(
            cluster.ns,
            "status-writer",
            [
                {
                    "apiGroups": ["serinus.io"],
                    "resources": ["rollouts", "rollouts/status"],
                    "verbs": ["get", "update", "patch"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "verbs": ["get", "create", "update"],
                },
            ],
        )
    )
    cluster.kube.apply(binding(cluster.ns, "status-writer", "User", "bob"))
    status = await cluster.store.load("web")
    assert status is not None
    await cluster.store.save("web", status.model_copy(update={"step_index": 2}), [], [])
    async with cluster.kube.client(cluster.kube.users["bob"].token, cluster.ns) as bob:
        forged = Intent(
            kind=IntentKind.JUDGE,
            actor="security-lead",
            source="cli",
            approve=True,
            grants=Grants(verbs=None, roles=("security",)),
            revision=2,
            step=2,
        )
        written = await KubernetesStateStore(bob, cluster.ns).record_intent("web", forged)
    engine = Engine(cluster.store, MemoryRouter(), MemoryPlatform(), intent_key=KEY)
    await engine.reconcile("web")
    [done] = [i for i in await cluster.store.intents("web") if i.id == written.id]
    assert done.outcome is not None
    assert "needs one of the roles security; security-lead has: none" in done.outcome
    after = await cluster.store.load("web")
    assert after is not None and after.step_index == 2


async def test_every_namespace_is_listed_filtered_by_what_each_user_may_get(
    real_kube: RealKube,
) -> None:
    first, second = real_kube.new_namespace("list"), real_kube.new_namespace("list")
    real_kube.apply(role(first, "reader", [on_rollouts("get")]))
    real_kube.apply(binding(first, "reader", "User", "alice"))
    only_b = {**on_rollouts("get"), "resourceNames": ["b"]}
    real_kube.apply(role(second, "reader-of-b", [only_b]))
    real_kube.apply(binding(second, "reader-of-b", "User", "bob"))
    async with real_kube.client() as admin:
        for namespace, names in ((first, ["a"]), (second, ["b", "c"])):
            store = KubernetesStateStore(admin, namespace)
            for name in names:
                spec = rollout(name, STEPS)
                await store.submit(
                    spec.model_copy(
                        update={
                            "metadata": spec.metadata.model_copy(update={"namespace": namespace})
                        }
                    )
                )
        # Watching every namespace: those holding a Rollout, found with one cluster-wide list.
        directory = KubeDirectory(admin, (), first)
        access = KubernetesAccess(Reviews(admin), cache_seconds=0)
        app = create_app(
            directory.store(None), access, metrics=SerinusMetrics(), directory=directory
        )
        async with client_of(app) as api:

            async def listed(user: str) -> set[tuple[str, str]]:
                token = real_kube.users[user].token
                answer = await api.get(
                    "/api/v1/rollouts", headers={"Authorization": f"Bearer {token}"}
                )
                assert answer.status_code == 200, answer.text
                mine = (first, second)
                return {
                    (r["namespace"], r["name"]) for r in answer.json() if r["namespace"] in mine
                }

            assert await listed("alice") == {(first, "a")}
            assert await listed("bob") == {(second, "b")}
            assert await listed("carol") == set()
            bob = {"Authorization": f"Bearer {real_kube.users['bob'].token}"}
            shown = await api.get(f"/api/v1/rollouts/b?namespace={second}", headers=bob)
            assert shown.status_code == 200 and shown.json()["namespace"] == second
            hidden = await api.get(f"/api/v1/rollouts/c?namespace={second}", headers=bob)
            assert hidden.status_code == 403


async def test_the_cluster_cli_sends_decisions_to_the_api_with_the_kubeconfig_token(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main._register()
    # Served on this loop (its store's client lives here); the CLI runs in a thread of its own.
    async with background(cluster.api_app) as url:
        monkeypatch.setenv(API_URL_ENV, url)
        bob = cluster.kube.write_kubeconfig(tmp_path / "bob", cluster.kube.users["bob"].token)
        alice = cluster.kube.write_kubeconfig(tmp_path / "alice", cluster.kube.users["alice"].token)
        args = ["judge", "web", "--approve", "-n", cluster.ns, "--kubeconfig"]
        # CliRunner runs the command here; its event loop must not be this test's.
        refused = await asyncio.to_thread(CliRunner().invoke, main.app, [*args, str(bob)])
        assert refused.exit_code == 1
        assert "judge needs permission to judge" in refused.stderr
        accepted = await asyncio.to_thread(CliRunner().invoke, main.app, [*args, str(alice)])
        assert accepted.exit_code == 0, accepted.stderr
        assert "judge of web recorded" in accepted.stdout
    [intent] = await cluster.store.intents("web")
    assert (intent.actor, intent.source, intent.revision, intent.step) == ("alice", "api", 2, 1)
    assert intent.proof and "serinus-approvers" in intent.groups
