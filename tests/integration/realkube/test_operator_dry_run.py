"""The operator's dry-run annotation end to end, on the real API server, with the chart's RBAC.

The operator runs as the chart deploys it (its ServiceAccount's token, its Roles, a child
process). A Rollout completed at v1 is annotated `serinus.io/dry-run: "true"` with a v2 spec:
- the operator writes the plan of v2 to ConfigMap `<name>-serinus-plan`, planned for the very
  Rollout the annotation was set on;
- it changes nothing else: every Deployment, Service, routing object and the Rollout itself
  keeps its resourceVersion (so its status too), and the audit log shows no write of the
  operator's but the ConfigMap and the server-side dry-runs of the plan;
removing the annotation makes the operator perform v2: a Deployment of v2 appears.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from real_kube import ISTIO_CRDS, RealKube
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.operator.world import until
from tests.integration.realkube.chart import deploy_chart_rbac
from tests.integration.realkube.pipeline import NAME, rollout_document, seed_objects
from tests.integration.realkube.test_execution import Install

from serinus.adapters.kube.client import KubeClient, Object
from serinus.adapters.kube.resources import (
    CONFIGMAPS,
    DEPLOYMENTS,
    DESTINATION_RULES,
    SERVICES,
    VIRTUAL_SERVICES,
    ObjectRef,
)
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.entrypoints.operator.dry_run import ANNOTATION, PLANNED_FOR, plan_name

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("realkube-operator-dry-run")]

WRITES = ("create", "update", "patch", "delete")
WATCHED = (DEPLOYMENTS, SERVICES, CONFIGMAPS, VIRTUAL_SERVICES, DESTINATION_RULES, ROLLOUTS)
V1, V2 = "1.0.0", "2.0.0"


@pytest.fixture
def install(real_kube: RealKube, tmp_path: Path) -> Iterator[Install]:
    real_kube.install_crds(ISTIO_CRDS)
    release = real_kube.new_namespace("serinus-dry")
    namespace = real_kube.new_namespace("dry")
    rbac = deploy_chart_rbac(
        real_kube, "serinus-dry", release, tmp_path / "helm", f"watchNamespace={namespace}"
    )
    yield Install(real_kube, rbac, namespace, tmp_path)  # the chart's operator, as there


async def versions(client: KubeClient, namespace: str) -> dict[tuple[str, str], str]:
    """Every watched object's resourceVersion in the namespace, but the plan's ConfigMap."""
    found: dict[tuple[str, str], str] = {}
    for resource in WATCHED:
        for item in (await client.list(resource, namespace, cached=False)).items:
            key = (resource.kind, item["metadata"]["name"])
            if key != ("ConfigMap", plan_name(NAME)):
                found[key] = item["metadata"]["resourceVersion"]
    return found


def images(deployments: list[Object]) -> set[str]:
    return {
        container["image"]
        for deployment in deployments
        for container in deployment["spec"]["template"]["spec"]["containers"]
    }


def annotated(current: Object, spec: dict[str, Any]) -> Object:
    metadata = dict(current["metadata"])
    metadata["annotations"] = {**(metadata.get("annotations") or {}), ANNOTATION: "true"}
    return {**current, "metadata": metadata, "spec": spec}


def unannotated(current: Object) -> Object:
    metadata = dict(current["metadata"])
    kept = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != ANNOTATION}
    return {**current, "metadata": {**metadata, "annotations": kept}}


def test_the_dry_run_annotation_plans_v2_changes_nothing_and_its_removal_performs_it(
    install: Install,
) -> None:
    kube, namespace = install.kube, install.watched
    ref = ObjectRef(ROLLOUTS, namespace, NAME)
    plan_ref = ObjectRef(CONFIGMAPS, namespace, plan_name(NAME))
    v2 = rollout_document("deployment", "istio-host", V2, namespace)

    async def scenario() -> None:
        for obj in seed_objects("deployment", "istio-host", namespace):
            kube.apply(obj)
        replica = install.operator("serinus-dry-run")
        async with kube.client() as client:
            await client.create(
                ROLLOUTS, namespace, rollout_document("deployment", "istio-host", V1, namespace)
            )
            await replica.start()
            try:
                async with DeploymentController(client, namespace, period=0.25).running():

                    async def phase() -> str:
                        found = await client.get(ref)
                        return str((found.get("status") or {}).get("phase", ""))

                    async def completed() -> bool:
                        return await phase() == "Completed"

                    await until(completed, f"{V1} completed", 120, replica.log)
                    status_before = (await client.get(ref))["status"]

                    before = await versions(client, namespace)
                    seen = len(kube.audit_events())
                    written = await client.read_modify_write(
                        ref, lambda c: annotated(c, v2["spec"])
                    )
                    annotated_version = written["metadata"]["resourceVersion"]
                    before[("Rollout", NAME)] = annotated_version  # our edit, nobody else's

                    async def shown() -> Object | None:
                        return await client.get_or_none(plan_ref)

                    plan = await until(shown, "the plan's ConfigMap", 90, replica.log)
                    after = await versions(client, namespace)
                    assert after == before, "the dry-run changed an object"
                    assert (await client.get(ref))["status"] == status_before
                    planned_for = plan["metadata"]["annotations"][PLANNED_FOR]
                    assert planned_for == annotated_version
                    summary = plan["data"]["summary"]
                    assert summary.startswith(f"dry-run of {V2}:"), summary
                    data = json.loads(plan["data"]["plan.json"])
                    assert data["final"]["stable"] == V2 and data["stopped"] is None, data
                    writes = [
                        e
                        for e in kube.audit_events()[seen:]
                        if e.user == install.rbac.user
                        and e.resource != "leases"  # its leadership, renewed meanwhile
                        and e.verb in WRITES
                        and e.code < 400
                        and "dryRun=All" not in e.uri
                    ]
                    assert [(e.verb, e.resource, e.name) for e in writes] == [
                        ("create", "configmaps", plan_name(NAME))
                    ], "the operator's only real write is the plan"

                    await client.read_modify_write(ref, unannotated)

                    async def v2_deployed() -> bool:
                        found = await client.list(DEPLOYMENTS, namespace, cached=False)
                        return f"registry.example.com/{NAME}:{V2}" in images(found.items)

                    await until(v2_deployed, f"a Deployment of {V2}", 90, replica.log)
            finally:
                await replica.stop()

    asyncio.run(scenario())
