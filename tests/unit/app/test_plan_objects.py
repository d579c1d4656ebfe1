"""The Kubernetes objects of a plan are the ones the deployment platform then writes: the plan's
actions are performed by the real `DeploymentPlatform` against the API server stand-in and every
object the plan lists is compared with what the server holds afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kube_stand_in.kube_fixtures import kube_api  # noqa: F401
from kube_stand_in.kubeapi import KubeApiStandIn

from serinus.adapters.kube.client import KubeClient, ObjectRef
from serinus.adapters.kube.resources import DEPLOYMENTS, SERVICES
from serinus.adapters.platforms.deployment import DeploymentPlatform
from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.app.plan_objects import object_changes
from serinus.app.planning import plan_rollout
from serinus.core.documents import load_rollout
from serinus.core.spec import Rollout

EXAMPLE = Path(__file__).parents[3] / "examples" / "kubernetes" / "deployment-istio"


def rollout(version: str) -> Rollout:
    text = (EXAMPLE / "rollout.yaml").read_text()
    text = text.replace('"6.5.0"', f'"{version}"').replace(":6.5.0", f":{version}")
    return load_rollout(text, source="test")


async def completed(v1: Rollout) -> Any:
    store = MemoryStateStore()
    engine = Engine(store, MemoryRouter(), MemoryPlatform(MemoryWorld()), clock=lambda: 1000.0)
    await operations.submit(store, v1)
    for _ in range(5):
        await engine.reconcile(v1.name)
    status = await store.load(v1.name)
    assert status is not None and status.terminal
    return status


async def test_a_new_version_creates_the_other_color_and_deletes_the_old_one() -> None:
    v1, v2 = rollout("6.5.0"), rollout("6.6.0")
    start = await completed(v1)
    plan = await plan_rollout(v2, (v1, start), 2000.0)
    changes = object_changes(v2, start, plan.actions())
    assert changes is not None
    assert [(c.verb, c.kind, c.name) for c in changes] == [
        ("create", "Deployment", "web-green"),
        ("create", "Service", "web-green"),
        ("delete", "Deployment", "web-blue"),
        ("delete", "Service", "web-blue"),
    ]
    assert changes[0].changes == (
        "replicas: 3",
        "image web: ghcr.io/stefanprodan/podinfo:6.6.0",
    )
    assert all(c.namespace == "shop" for c in changes)


async def test_a_canary_shows_each_scale_up_as_an_update() -> None:
    v1 = rollout("6.5.0")
    data = v1.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["spec"]["strategy"] = {"canary": {"steps": [{"setWeight": 20}, {"setWeight": 50}]}}
    canary = Rollout.model_validate(data)
    start = await completed(canary)
    v2 = canary.with_version("6.6.0")
    changes = object_changes(v2, start, (await plan_rollout(v2, (canary, start), 0.0)).actions())
    assert changes is not None
    updates = [c.changes for c in changes if c.verb == "update" and c.kind == "Deployment"]
    assert updates == [("spec.replicas: 1 -> 2",), ("spec.replicas: 2 -> 3",)]


async def test_the_listed_objects_are_what_the_deployment_platform_writes(
    kube_api: KubeApiStandIn,  # noqa: F811
) -> None:
    v1, v2 = rollout("6.5.0"), rollout("6.6.0")
    start = await completed(v1)
    plan = await plan_rollout(v2, (v1, start), 2000.0)
    changes = object_changes(v2, start, plan.actions())
    assert changes is not None
    assert kube_api.kubeconfig_path is not None
    workload = v2.spec.workload.deployment
    assert workload is not None
    async with KubeClient.from_kubeconfig(kube_api.kubeconfig_path) as client:
        platform = DeploymentPlatform(client, v2.name, "shop", workload)
        for action in plan.actions():
            if action.kind == "EnsureVersion":
                fields = action.fields
                await platform.ensure(fields["color"], fields["version"], fields["replicas"])
        for change in changes:
            if change.verb == "delete":
                continue
            resource = DEPLOYMENTS if change.kind == "Deployment" else SERVICES
            stored = await client.get(ObjectRef(resource, "shop", change.name))
            assert change.body is not None
            for key, value in change.body["spec"].items():
                assert stored["spec"][key] == value, (change.name, key)
            assert stored["metadata"]["labels"] == change.body["metadata"]["labels"]
