"""`serinus plan` on the real API server: every object write is a server-side dry-run.

For each router (Istio host-level, Gateway API, NGINX) and the deployment workload: v1 is rolled
out by the engine with the real adapters (the test plays the Deployment controller); the plan of
v2 is checked by the server with `dryRun=All`, and then the engine rolls v2 out for real. The
test asserts that
- the plan wrote nothing: every object's resourceVersion is unchanged, and each write the plan
  sent is in the audit log with `dryRun=All`;
- the plan's writes (verb, kind, name) are the writes the engine then makes, in order, and each
  object's spec as the dry-run answered it is its spec on the server after the rollout;
- `serinus plan FILE -n NS` (the CLI, from the Rollout recorded in the cluster) shows the same
  writes, and its weight edits;
- the operator's dry-run annotation (`entrypoints/operator/dry_run.py`) writes the plan to a
  ConfigMap and nothing else, plans a Rollout once, and refuses what the cluster policy refuses;
- a write the server refuses (an invalid image pull policy) stops the plan, naming the object.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from real_kube import GATEWAY_API_CRDS, ISTIO_CRDS, AuditEvent, RealKube
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.operator.world import serinus, until
from tests.integration.realkube.chart import helm_binary
from tests.integration.realkube.pipeline import NAME, rollout_document, seed_objects

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.connection import from_kubeconfig
from serinus.adapters.kube.dry_run import USER_AGENT, DryRunClient
from serinus.adapters.kube.resources import (
    CONFIGMAPS,
    DEPLOYMENTS,
    HTTP_ROUTES,
    INGRESSES,
    SERVICES,
    VIRTUAL_SERVICES,
    ObjectRef,
    Resource,
)
from serinus.adapters.stores.kubernetes import INTENT_COUNTER, KubernetesStateStore
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.app.plan_cluster import CheckedObjects, check_objects
from serinus.app.planning import Plan, plan_rollout
from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.core.intents import IntentKind
from serinus.core.ports import StateStore
from serinus.core.spec import Rollout
from serinus.core.status import Phase, RolloutStatus
from serinus.entrypoints.operator.dry_run import ANNOTATION, plan_name, requested, show_dry_run

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("realkube-plan")]

ROUTED: dict[str, Resource] = {
    "istio-host": VIRTUAL_SERVICES,
    "gatewayAPI": HTTP_ROUTES,
    "nginx": INGRESSES,
}
WRITES = frozenset({"create", "update", "patch", "delete"})
# Every kind the platforms and routers write (the helm platform's inventory is a ConfigMap).
RESOURCES = (DEPLOYMENTS, SERVICES, CONFIGMAPS, INGRESSES, VIRTUAL_SERVICES, HTTP_ROUTES)
KINDS = {r.plural: r.kind for r in RESOURCES}
CASES = [("deployment", router) for router in sorted(ROUTED)] + [("helm", "istio-host")]


def rollout(router: str, version: str, namespace: str, workload: str = "deployment") -> Rollout:
    document = rollout_document(workload, router, version, namespace)
    return Rollout.model_validate(document)


async def cli_plan(
    kube: RealKube, target: Rollout, namespace: str, folder: Path
) -> list[tuple[str, str, str]]:
    """`serinus plan FILE -n NS -o json`: the writes it lists, each checked by the server."""
    file = folder / "v2.json"
    file.write_text(json.dumps(target.model_dump(mode="json", by_alias=True, exclude_none=True)))
    code, output = await serinus(
        "plan", str(file), "-n", namespace, "-o", "json", kubeconfig=kube.admin_kubeconfig
    )
    assert code == 0, output
    data = json.loads(output)
    code, text = await serinus("plan", str(file), "-n", namespace, kubeconfig=kube.admin_kubeconfig)
    assert code == 0 and text.rstrip().endswith("Nothing was written."), text
    assert "(checked)" in text and "weight" in text and "(refused)" not in text, text
    objects = [obj for entry in data["entries"] for obj in entry["objects"]]
    assert objects and all(obj["checked"] for obj in objects), output
    assert data["objectsStopped"] is None and "dryRun=All" in data["note"]
    return [(obj["verb"], obj["kind"], obj["name"]) for obj in objects]


async def drive(engine: Engine, store: StateStore, target: Rollout) -> RolloutStatus:
    """Submit `target` and reconcile until it completes, approving its judgement."""
    await operations.submit(store, target)
    deadline = time.monotonic() + 120

    async def completed() -> RolloutStatus | None:
        result = await engine.reconcile(target.name)
        status = result.status
        if status.phase is Phase.AWAITING_JUDGEMENT and not await store.pending_intents(NAME):
            await operations.request(
                store, NAME, IntentKind.JUDGE, actor="ana", source="test", approve=True
            )
        assert time.monotonic() < deadline, f"{target.spec.version}: {status.message}"
        return status if status.phase is Phase.COMPLETED else None

    found: RolloutStatus = await until(completed, f"{target.spec.version} completed", 120)
    return found


async def versions(client: KubeClient, namespace: str) -> dict[tuple[str, str], str]:
    """Every object's resourceVersion in the namespace (the plan must change none)."""
    found: dict[tuple[str, str], str] = {}
    for resource in (*RESOURCES, ROLLOUTS):
        for item in (await client.list(resource, namespace, cached=False)).items:
            found[(resource.kind, item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
    return found


def writes(events: list[AuditEvent], namespace: str, agent: str) -> list[AuditEvent]:
    return [
        e
        for e in events
        if e.namespace == namespace
        and e.verb in WRITES
        and e.user_agent.startswith(agent)
        and not e.subresource
        and e.resource != "pods"
        and e.code < 400  # a delete of what is gone already (missing_ok) wrote nothing
    ]


@pytest.fixture(scope="module")
def kube(real_kube: RealKube) -> RealKube:
    real_kube.install_crds(ISTIO_CRDS, GATEWAY_API_CRDS)
    return real_kube


@pytest.mark.parametrize(("workload", "router"), CASES)
async def test_the_plan_is_dry_run_and_is_what_the_engine_writes(
    kube: RealKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workload: str, router: str
) -> None:
    if workload == "helm":
        monkeypatch.setenv("SERINUS_HELM", helm_binary())  # the operator's own helm
    namespace = kube.new_namespace("plan")
    for obj in seed_objects(workload, router, namespace):
        kube.apply(obj)
    v1 = rollout(router, "1.0.0", namespace, workload)
    v2 = rollout(router, "1.1.0", namespace, workload)
    async with (
        kube.client() as client,
        DeploymentController(client, namespace, period=0.1).running(),
    ):
        store = KubernetesStateStore(client, namespace)  # the CLI's plan reads the Rollout
        context = AdapterContext(rollout=v1, state_dir=tmp_path, kube=client)
        engine = Engine(store, build_router(context), build_platform(context))
        start = await drive(engine, store, v1)

        before = await versions(client, namespace)
        seen = len(kube.audit_events())  # what follows is the plan's
        plan = await plan_rollout(v2, (v1, start), time.time())
        assert plan.stopped is None, plan.stopped
        checked = await dry_run(kube, plan, tmp_path)
        assert checked.stopped is None, checked.stopped
        assert await versions(client, namespace) == before
        sent = writes(kube.audit_events()[seen:], namespace, USER_AGENT)
        seen = len(kube.audit_events())
        assert sent, "the plan sent no write to check"
        assert all("dryRun=All" in event.uri for event in sent), [e.uri for e in sent]
        planned = [(c.verb, c.kind, c.name) for c in checked.all()]
        assert len(sent) == len(planned)  # creates, updates and deletes all went to the server
        assert all(change.checked for change in checked.all())
        edits = [c for c in checked.all() if c.kind == ROUTED[router].kind and c.verb == "update"]
        assert edits and all(c.changes for c in edits), "each routing edit shows its diff"
        assert any("weight" in line for c in edits for line in c.changes), edits
        assert await cli_plan(kube, v2, namespace, tmp_path) == planned
        assert await versions(client, namespace) == before

        context = AdapterContext(rollout=v2, state_dir=tmp_path, kube=client)
        engine = Engine(store, build_router(context), build_platform(context))
        await drive(engine, store, v2)
        performed = [
            (e.verb, KINDS[e.resource], e.name)
            for e in writes(kube.audit_events()[seen:], namespace, "serinus")
            if not e.user_agent.startswith(USER_AGENT) and e.resource in KINDS and not stores(e)
        ]
        assert performed == planned
        await assert_final_specs(client, checked, namespace)


def stores(event: AuditEvent) -> bool:
    """The Kubernetes store's own objects (the intent counter), not the adapters' writes."""
    return event.name == INTENT_COUNTER


async def dry_run(kube: RealKube, plan: Plan, folder: Path) -> CheckedObjects:
    client = DryRunClient(from_kubeconfig(kube.admin_kubeconfig))
    try:
        return await check_objects(plan, client, state_dir=folder)
    finally:
        await client.close()


async def assert_final_specs(client: KubeClient, checked: CheckedObjects, namespace: str) -> None:
    last: dict[tuple[str, str], Any] = {}
    for change in checked.all():
        last[(change.kind, change.name)] = change.body
    resources = {r.kind: r for r in RESOURCES}
    for (kind, name), body in last.items():
        live = await client.get_or_none(ObjectRef(resources[kind], namespace, name))
        if body is None:
            assert live is None, f"{kind} {name} was to be deleted"
        else:
            assert live is not None, f"{kind} {name} was to be written"
            content = "data" if kind == "ConfigMap" else "spec"
            assert allocated(live[content]) == allocated(body[content]), f"{kind} {name}"


def allocated(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec without the cluster IPs, which a dry-run create does not allocate."""
    return {key: value for key, value in spec.items() if key not in ("clusterIP", "clusterIPs")}


async def test_a_write_the_server_refuses_stops_the_plan(kube: RealKube, tmp_path: Path) -> None:
    namespace = kube.new_namespace("plan")
    for obj in seed_objects("deployment", "istio-host", namespace):
        kube.apply(obj)
    v1 = rollout("istio-host", "1.0.0", namespace)
    document = rollout_document("deployment", "istio-host", "1.1.0", namespace)
    bad = copy.deepcopy(document)
    container = bad["spec"]["workload"]["deployment"]["template"]["spec"]["containers"][0]
    container["imagePullPolicy"] = "Sometimes"  # the server's enum: Always, Never, IfNotPresent
    v2 = Rollout.model_validate(bad)
    store = MemoryStateStore()
    async with (
        kube.client() as client,
        DeploymentController(client, namespace, period=0.1).running(),
    ):
        context = AdapterContext(rollout=v1, state_dir=tmp_path, kube=client)
        start = await drive(
            Engine(store, build_router(context), build_platform(context)), store, v1
        )
        before = await versions(client, namespace)
        plan = await plan_rollout(v2, (v1, start), time.time())
        checked = await dry_run(kube, plan, tmp_path)
        assert await versions(client, namespace) == before
    assert checked.stopped is not None and "imagePullPolicy" in checked.stopped
    refused = [c for c in checked.all() if c.error is not None]
    assert [(c.kind, c.name) for c in refused] == [("Deployment", f"{NAME}-green")]
    assert not refused[0].checked


def annotated(current: dict[str, Any], spec: dict[str, Any], value: str) -> dict[str, Any]:
    updated = copy.deepcopy(current)
    updated["metadata"].setdefault("annotations", {})[ANNOTATION] = value
    updated["spec"] = spec
    return updated


async def test_the_operator_dry_run_shows_the_plan_and_performs_nothing(
    kube: RealKube, tmp_path: Path
) -> None:
    namespace = kube.new_namespace("plan")
    for obj in seed_objects("deployment", "istio-host", namespace):
        kube.apply(obj)
    v1 = rollout("istio-host", "1.0.0", namespace)
    v2 = rollout_document("deployment", "istio-host", "1.1.0", namespace)
    ref = ObjectRef(ROLLOUTS, namespace, NAME)
    shown_ref = ObjectRef(CONFIGMAPS, namespace, plan_name(NAME))
    async with (
        kube.client() as client,
        DeploymentController(client, namespace, period=0.1).running(),
    ):
        store = KubernetesStateStore(client, namespace)
        context = AdapterContext(rollout=v1, state_dir=tmp_path, kube=client)
        await drive(Engine(store, build_router(context), build_platform(context)), store, v1)
        await client.read_modify_write(ref, lambda c: annotated(c, v2["spec"], "true"))
        body = await client.get(ref)
        assert requested(body)

        def but_the_plan(found: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
            return {key: v for key, v in found.items() if key != ("ConfigMap", shown_ref.name)}

        before = await versions(client, namespace)

        result = await show_dry_run(client, body, allow_author_commands=False, state_dir=tmp_path)
        assert result.decision is None and result.status.phase is Phase.COMPLETED
        assert but_the_plan(await versions(client, namespace)) == but_the_plan(
            before
        )  # the Rollout's status included
        shown = await client.get(shown_ref)
        plan = json.loads(shown["data"]["plan.json"])
        objects = [obj for entry in plan["entries"] for obj in entry["objects"]]
        assert objects and all(obj["checked"] for obj in objects), plan
        assert plan["final"]["stable"] == "1.1.0" and plan["stopped"] is None
        summary = shown["data"]["summary"]
        assert f"{len(objects)} of {len(objects)} object writes accepted" in summary, summary
        assert shown["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"]

        seen = len(kube.audit_events())
        await show_dry_run(client, body, allow_author_commands=False, state_dir=tmp_path)
        planned_again = [e for e in kube.audit_events()[seen:] if e.user_agent == USER_AGENT]
        assert not planned_again, "the same Rollout is planned once"
        again = await client.get(shown_ref)
        assert again["metadata"]["resourceVersion"] == shown["metadata"]["resourceVersion"]

        process = copy.deepcopy(v2["spec"])
        process["workload"] = {"process": {"replicas": 1, "command": ["touch", "/tmp/x"]}}
        await client.read_modify_write(ref, lambda c: annotated(c, process, "true"))
        body = await client.get(ref)
        before = await versions(client, namespace)
        await show_dry_run(client, body, allow_author_commands=False, state_dir=tmp_path)
        assert but_the_plan(await versions(client, namespace)) == but_the_plan(before)
        summary = (await client.get(shown_ref))["data"]["summary"]
        assert "nothing planned: ExecutionNotAllowed: spec.workload.process" in summary, summary
        await client.read_modify_write(ref, lambda c: annotated(c, process, "false"))
        assert not requested(await client.get(ref))
