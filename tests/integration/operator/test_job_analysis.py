"""An analysis step whose check is a Kubernetes Job: the operator creates the Job under the named
ServiceAccount, waits while it runs, reads its outcome and removes it. The test plays the Job
controller (no kubelet here): it ends each Job the operator creates with the wanted condition."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.adapters.metrics.job_scenarios import finish
from tests.integration.operator.world import (
    NAMESPACE,
    deployment_rollout,
    new_version,
    operator,
    rollout_status,
    serve_rollouts,
    until,
    virtual_service,
)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import JOBS, VIRTUAL_SERVICES
from serinus.adapters.stores.rollout_resource import ROLLOUTS

pytestmark = pytest.mark.integration

JOB = {
    "spec": {
        "backoffLimit": 0,
        "template": {"spec": {"containers": [{"name": "smoke", "image": "smoke:1"}]}},
    },
    "serviceAccountName": "smoke-tests",
}


def job_rollout() -> dict[str, Any]:
    rollout = deployment_rollout(
        "web", "1.0", [{"setWeight": 20}, {"analysis": {"templates": ["smoke"]}}]
    )
    rollout["spec"]["analysisTemplates"] = [
        {
            "name": "smoke",
            "metrics": [
                {
                    "name": "smoke",
                    "successCondition": "result[0] == 1",
                    "provider": {"job": JOB},
                }
            ],
        }
    ]
    return rollout


class JobController:
    """Ends every Job it sees with `outcome` (Complete or Failed), after it was seen running."""

    def __init__(self, client: KubeClient, outcome: str, namespace: str = NAMESPACE) -> None:
        self.client = client
        self.outcome = outcome
        self.namespace = namespace
        self.seen: list[dict[str, Any]] = []

    async def _loop(self) -> None:
        while True:
            for job in (await self.client.list(JOBS, self.namespace)).items:
                if job.get("status"):
                    continue
                self.seen.append(job)
                with contextlib.suppress(Exception):  # deleted meanwhile: nothing to end
                    await finish(self.client, self.namespace, job["metadata"]["name"], self.outcome)
            await asyncio.sleep(0.05)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[JobController]:
        task = asyncio.create_task(self._loop())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
async def cluster(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> AsyncIterator[KubeApiStandIn]:
    serve_rollouts(kube_api)
    kube_api.put(VIRTUAL_SERVICES, virtual_service("web", {"host": "web-blue"}))
    async with DeploymentController(kube_client, NAMESPACE).running():
        yield kube_api


def phase_and_message(api: KubeApiStandIn) -> tuple[str, str]:
    status = rollout_status(api, "web")
    return str(status.get("phase") or ""), str(status.get("message") or "")


ENDS = {"Complete": ("Completed", "1.1 is live"), "Failed": ("Aborted", None)}


@pytest.mark.parametrize("outcome", sorted(ENDS))
async def test_a_job_check_passes_or_fails_the_analysis(
    cluster: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path, outcome: str
) -> None:
    phase, message = ENDS[outcome]

    def ended() -> bool:
        now = phase_and_message(api)
        return now[0] == phase and message in (None, now[1])

    api = cluster
    assert api.kubeconfig_path is not None
    async with (
        operator(api.kubeconfig_path, tmp_path / "op") as running,
        JobController(kube_client, outcome).running() as jobs,
    ):
        await kube_client.create(ROLLOUTS, NAMESPACE, job_rollout())
        await until(
            lambda: phase_and_message(api) == ("Completed", "1.0 is live"), "1.0", log=running.log
        )
        new_version(api, "web", "1.1")
        await until(ended, f"{phase} after the Job ended", timeout=45, log=running.log)
        assert (await kube_client.list(JOBS, NAMESPACE)).items == [], "the Job was removed"
    [job] = jobs.seen
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "smoke-tests"
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("Rollout", "web")
    [metric] = rollout_status(api, "web")["serinus"]["analysis"]["metrics"]
    assert [m["value"] for m in metric["measurements"]] == [[1.0 if outcome == "Complete" else 0.0]]
