"""The deployment platform passes the Platform contract against the API server stand-in.

Honest note: the stand-in runs no pods, so `DeploymentController` (kube_controller.py) plays
the Deployment controller and the kubelet: it creates pods for each Deployment and writes the
Deployment's status (ready at once, or CrashLoopBackOff / ProgressDeadlineExceeded for the
failing namespace). What this proves is serinus's side: the objects it writes, how it reads
readiness, endpoints and failures, adoption and teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kube_stand_in.kube_fixtures import kube_api  # noqa: F401
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.contract.platforms.contract import PlatformContract, PlatformHandles, eventually
from tests.contract.platforms.kube_controller import DeploymentController

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import DEPLOYMENTS, SERVICES
from serinus.adapters.platforms.deployment import DeploymentPlatform
from serinus.adapters.platforms.kube_workloads import deployment_ready
from serinus.core.ports import Platform
from serinus.core.workload_spec import DeploymentWorkload

WORKLOAD = DeploymentWorkload.model_validate(
    {
        "replicas": 2,
        "selector": {"app": "game"},
        "template": {
            "metadata": {"labels": {"tier": "backend"}},
            "spec": {
                "containers": [
                    {"name": "game", "image": "game:1", "ports": [{"containerPort": 8080}]}
                ]
            },
        },
        "service": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }
)


class KubeHandles:
    settle_seconds = 5.0

    def __init__(self, api: KubeApiStandIn) -> None:
        self.api = api
        self.clients: list[KubeClient] = []

    def client(self) -> KubeClient:
        assert self.api.kubeconfig_path is not None
        client = KubeClient.from_kubeconfig(self.api.kubeconfig_path)
        self.clients.append(client)
        return client

    def open(self) -> Platform:
        return DeploymentPlatform(self.client(), "game", "default", WORKLOAD)

    def open_failing(self) -> Platform:
        return DeploymentPlatform(self.client(), "game", "failing", WORKLOAD)


@pytest.fixture
async def handles(kube_api: KubeApiStandIn) -> AsyncIterator[KubeHandles]:  # noqa: F811
    handles = KubeHandles(kube_api)
    fine = DeploymentController(handles.client(), "default")
    failing = DeploymentController(handles.client(), "failing", crashing=True)
    try:
        async with fine.running(), failing.running():
            yield handles
    finally:
        for client in handles.clients:
            await client.close()


class TestDeploymentPlatform(PlatformContract):
    @pytest.fixture
    def platform_handles(self, handles: KubeHandles) -> PlatformHandles:
        return handles


def stored(api: KubeApiStandIn, resource: Any, name: str) -> dict[str, Any]:
    found = api.stored(resource, "default", name)
    assert found is not None, f"{resource.plural}/{name} missing"
    return found


async def test_the_deployment_and_service_select_one_color(
    kube_api: KubeApiStandIn,  # noqa: F811
    handles: KubeHandles,
) -> None:
    platform = handles.open()
    await platform.ensure("green", "2.0.1", 3)
    deployment = stored(kube_api, DEPLOYMENTS, "game-green")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app": "game",
        "serinus.io/rollout": "game",
        "serinus.io/color": "green",
    }
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["serinus.io/version"] == "2.0.1"
    assert pod_labels["tier"] == "backend"
    assert deployment["metadata"]["annotations"]["serinus.io/version"] == "2.0.1"
    service = stored(kube_api, SERVICES, "game-green")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"] == [
        {"port": 80, "targetPort": 8080, "protocol": "TCP", "name": "http"}
    ]


async def test_a_failing_version_names_the_crash_loop_or_the_deadline(
    handles: KubeHandles,
) -> None:
    platform = handles.open_failing()
    await platform.ensure("green", "v9", 1)
    state = await eventually(platform, lambda s: bool(s["green"].failure), 5.0, "failing")
    failure = state["green"].failure or ""
    assert "ProgressDeadlineExceeded" in failure or "CrashLoopBackOff" in failure


async def test_a_stale_status_counts_nothing_ready(
    kube_api: KubeApiStandIn,  # noqa: F811
    handles: KubeHandles,
) -> None:
    """A status the controller wrote for an older generation says nothing about the new one."""
    platform = handles.open()
    await platform.ensure("blue", "v1", 1)
    await eventually(platform, lambda s: s["blue"].ready == 1, 5.0, "blue ready")
    current = stored(kube_api, DEPLOYMENTS, "game-blue")
    status = {**current["status"], "observedGeneration": current["metadata"]["generation"] - 1}
    kube_api.edit(DEPLOYMENTS, "default", "game-blue", lambda d: d.update(status=status))
    # `edit` bumps the generation too: the recorded status is now two generations behind.
    assert deployment_ready(stored(kube_api, DEPLOYMENTS, "game-blue")) == 0


async def test_tear_down_removes_the_deployment_and_the_service(
    kube_api: KubeApiStandIn,  # noqa: F811
    handles: KubeHandles,
) -> None:
    platform = handles.open()
    await platform.ensure("green", "v2", 1)
    await platform.tear_down("green")
    assert kube_api.stored(DEPLOYMENTS, "default", "game-green") is None
    assert kube_api.stored(SERVICES, "default", "game-green") is None
