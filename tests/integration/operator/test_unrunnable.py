"""A Rollout the API accepts but serinus cannot run: its status says why, and once the cause
is fixed the operator carries on and the explanation goes away. One broken Rollout never holds
up the others the operator drives."""

from __future__ import annotations

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
    SEED_STEPS,
    deployment_rollout,
    helm_rollout,
    http_route,
    operator,
    rollout_status,
    serve_rollouts,
    until,
    virtual_service,
)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import HTTP_ROUTES, VIRTUAL_SERVICES
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.entrypoints.operator.reporting import CONDITION

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> AsyncIterator[KubeApiStandIn]:
    serve_rollouts(kube_api)
    async with DeploymentController(kube_client, NAMESPACE).running():
        yield kube_api


def error_condition(api: KubeApiStandIn, name: str) -> dict[str, Any] | None:
    conditions = rollout_status(api, name).get("conditions") or []
    return next((c for c in conditions if c["type"] == CONDITION and c["status"] == "True"), None)


async def test_the_status_says_why_a_rollout_cannot_run(
    cluster: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path
) -> None:
    api = cluster
    assert api.kubeconfig_path is not None
    missing_chart = tmp_path / "charts" / "does-not-exist"
    helm = os.environ.get("SERINUS_HELM") or shutil.which("helm")
    routing = {"gatewayAPI": {"httpRoute": "game"}}
    broken_helm = helm_rollout("1.0", routing, chart=missing_chart)
    api.put(HTTP_ROUTES, http_route("game", "game-blue"))
    async with operator(api.kubeconfig_path, tmp_path / "op") as running:
        await kube_client.create(ROLLOUTS, NAMESPACE, broken_helm)
        # No VirtualService "web" exists yet.
        await kube_client.create(ROLLOUTS, NAMESPACE, deployment_rollout("web", "1.0", SEED_STEPS))
        await kube_client.create(ROLLOUTS, NAMESPACE, deployment_rollout("ok", "1.0", SEED_STEPS))
        api.put(VIRTUAL_SERVICES, virtual_service("ok", {"host": "ok-blue"}))

        chart = await until(lambda: error_condition(api, "game"), "the helm error", log=running.log)
        # With helm: the chart is missing; without: helm is (both: a spec serinus cannot run).
        assert (str(missing_chart) if helm else "helm binary") in chart["message"]
        assert rollout_status(api, "game")["message"] == chart["message"]
        vs = await until(lambda: error_condition(api, "web"), "the routing error", log=running.log)
        assert vs["reason"] == "NotFound"
        assert 'virtualservices.networking.istio.io "web"' in vs["message"]
        await until(
            lambda: rollout_status(api, "ok").get("phase") == "Completed",
            "the healthy rollout completing beside the broken ones",
            log=running.log,
        )

        # Fixing the cause is enough: the operator retries, runs it and clears the explanation.
        api.put(VIRTUAL_SERVICES, virtual_service("web", {"host": "web-blue"}))
        await until(
            lambda: rollout_status(api, "web").get("phase") == "Completed",
            "web completing once its VirtualService exists",
            timeout=45,
            log=running.log,
        )
        assert error_condition(api, "web") is None
        assert error_condition(api, "game") is not None, "still broken, still explained"
