"""The operator (kopf, in a child process) drives the seed's pipeline against the API stand-in.

The stand-in runs no pods: the test-only DeploymentController marks Deployments ready. People
act through the cluster-mode CLI (`serinus judge web --approve -n default`), which records the
judgement in the Rollout's status, where the operator picks it up.
"""

from __future__ import annotations

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
    new_version,
    operator,
    rollout_status,
    serinus,
    serve_rollouts,
    until,
    virtual_service,
)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import DEPLOYMENTS, LEASES, VIRTUAL_SERVICES
from serinus.adapters.stores.rollout_resource import ROLLOUTS

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> AsyncIterator[KubeApiStandIn]:
    """The stand-in serving Rollouts, with the seed's VirtualService and ready Deployments."""
    serve_rollouts(kube_api)
    kube_api.put(VIRTUAL_SERVICES, virtual_service("web", {"host": "web-blue"}))
    async with DeploymentController(kube_client, NAMESPACE).running():
        yield kube_api


def primary_route(api: KubeApiStandIn) -> dict[str, int]:
    stored = api.stored(VIRTUAL_SERVICES, NAMESPACE, "web")
    assert stored is not None
    route = next(r for r in stored["spec"]["http"] if r.get("name") == "primary")
    return {d["destination"]["host"]: d.get("weight", 0) for d in route["route"]}


def phase(api: KubeApiStandIn, name: str = "web") -> str:
    return str(rollout_status(api, name).get("phase", ""))


async def test_the_operator_takes_a_rollout_from_apply_to_completed_with_a_cli_judgement(
    cluster: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path
) -> None:
    api = cluster
    assert api.kubeconfig_path is not None
    async with operator(api.kubeconfig_path, tmp_path / "op") as running:
        await kube_client.create(ROLLOUTS, NAMESPACE, deployment_rollout("web", "1.0", SEED_STEPS))
        await until(lambda: phase(api) == "Completed", "v1 completed", log=running.log)
        assert primary_route(api) == {"web-blue": 100}

        new_version(api, "web", "1.1")
        await until(
            lambda: phase(api) == "AwaitingJudgement", "the judgement gate", log=running.log
        )
        assert primary_route(api) == {"web-blue": 90, "web-green": 10}
        green = api.stored(DEPLOYMENTS, NAMESPACE, "web-green")
        assert green is not None and green["status"]["availableReplicas"] == 2

        code, output = await serinus(
            "judge", "web", "--approve", "-n", NAMESPACE, "-m", "dashboards look fine",
            kubeconfig=api.kubeconfig_path,
        )  # fmt: skip
        assert code == 0, output
        await until(lambda: phase(api) == "Completed", "v1.1 completed", log=running.log)

        assert primary_route(api) in ({"web-green": 100}, {"web-blue": 0, "web-green": 100})
        status = rollout_status(api, "web")
        assert status["stableVersion"] == "1.1"
        judged = [i for i in status["intents"] if i["kind"] == "judge"]
        assert judged and judged[0]["consumed"] and judged[0]["source"] == "cli"
        await until(
            lambda: (
                api.stored(DEPLOYMENTS, NAMESPACE, "web-blue") is None
                or api.stored(DEPLOYMENTS, NAMESPACE, "web-blue")["spec"]["replicas"] == 0
            ),
            "blue scaled down",
            log=running.log,
        )
        lease = api.stored(LEASES, NAMESPACE, "serinus-operator")
        assert lease is not None and lease["spec"]["holderIdentity"]

        code, output = await serinus("get", "web", "-n", NAMESPACE, "-o", "json",
                                     kubeconfig=api.kubeconfig_path)  # fmt: skip
        assert code == 0, output
        assert '"Completed"' in output
    assert running.process is None


async def test_a_killed_operator_resumes_the_rollout_without_recreating_green(
    cluster: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path
) -> None:
    api = cluster
    assert api.kubeconfig_path is not None
    async with operator(api.kubeconfig_path, tmp_path / "first") as first:
        await kube_client.create(ROLLOUTS, NAMESPACE, deployment_rollout("web", "1.0", SEED_STEPS))
        await until(lambda: phase(api) == "Completed", "v1 completed", log=first.log)
        new_version(api, "web", "1.1")
        await until(lambda: phase(api) == "AwaitingJudgement", "the gate", log=first.log)
        green: dict[str, Any] = api.stored(DEPLOYMENTS, NAMESPACE, "web-green") or {}
        first.kill()  # SIGKILL at the gate: the Lease stays held until it expires
        assert await first.stop() == -9

    # A new operator takes the expired Lease over and resumes at the gate.
    async with operator(api.kubeconfig_path, tmp_path / "second") as second:
        await until(lambda: "leading" in second.log.read_text(), "the Lease", log=second.log)
        assert phase(api) == "AwaitingJudgement"
        code, output = await serinus("judge", "web", "--approve", "-n", NAMESPACE,
                                     kubeconfig=api.kubeconfig_path)  # fmt: skip
        assert code == 0, output
        await until(lambda: phase(api) == "Completed", "v1.1 completed", log=second.log)

    resumed = api.stored(DEPLOYMENTS, NAMESPACE, "web-green")
    assert resumed is not None
    assert resumed["metadata"]["uid"] == green["metadata"]["uid"]
    assert resumed["metadata"]["creationTimestamp"] == green["metadata"]["creationTimestamp"]
    assert rollout_status(api, "web")["stableVersion"] == "1.1"
    lease = api.stored(LEASES, NAMESPACE, "serinus-operator") or {}
    assert lease["spec"]["leaseTransitions"] >= 1, "the second operator took the Lease over"
