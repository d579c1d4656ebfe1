"""What the job provider must do against an API server, written once for the stand-in and the
real kube-apiserver: the test plays the Job controller by writing the Job's status.

`client` is the operator's (on the real server: the chart's ServiceAccount, whose RBAC allows only
get, create and delete on Jobs); `admin` lists Jobs and writes their status, as the Job controller
would (default: the same client)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import JOBS, ObjectRef
from serinus.adapters.metrics.job import KEY_ANNOTATION, ROLLOUT_LABEL, JobProvider, job_name
from serinus.core.analysis.spec import JobSource
from serinus.core.errors import MetricsError

RUN = "step-2@1764633600.0"
SOURCE = JobSource.model_validate(
    {
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {"containers": [{"name": "smoke", "image": "curlimages/curl:8.5.0"}]}
            },
        },
        "serviceAccountName": "smoke-tests",
        "timeout": "5m",
    }
)


async def jobs_of(client: KubeClient, namespace: str) -> list[dict[str, Any]]:
    return (await client.list(JOBS, namespace)).items


async def finish(client: KubeClient, namespace: str, name: str, condition: str) -> None:
    """The Job controller's part: the Job ends with a `Complete` or `Failed` condition."""
    ref = ObjectRef(JOBS, namespace, name)
    job = await client.get(ref)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    job["status"] = {
        "conditions": [
            {"type": condition, "status": "True", "lastProbeTime": now, "lastTransitionTime": now}
        ],
        "startTime": now,
        **({"succeeded": 1, "completionTime": now} if condition == "Complete" else {"failed": 1}),
    }
    await client.replace(ref, job, subresource="status")


async def a_job_runs_until_it_completes_and_is_then_removed(
    client: KubeClient, namespace: str, outcome: str, admin: KubeClient | None = None
) -> None:
    admin = admin or client
    provider = JobProvider(client, namespace, "web", owner_uid=None)
    assert await provider.measure_keyed(SOURCE, RUN, "smoke", 0) is None, "pending while it runs"
    [job] = await jobs_of(admin, namespace)
    name = job["metadata"]["name"]
    assert name == job_name("web", RUN, "smoke", 0)
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "smoke-tests"
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["activeDeadlineSeconds"] == 300
    assert job["metadata"]["labels"][ROLLOUT_LABEL] == "web"
    assert job["metadata"]["annotations"][KEY_ANNOTATION] == f"{RUN}/smoke/0"

    # A restarted operator (a new provider) continues the same measurement: no second Job.
    restarted = JobProvider(client, namespace, "web")
    assert await restarted.measure_keyed(SOURCE, RUN, "smoke", 0) is None
    assert [j["metadata"]["name"] for j in await jobs_of(admin, namespace)] == [name]

    await finish(admin, namespace, name, outcome)
    expected = [1.0] if outcome == "Complete" else [0.0]
    assert await restarted.measure_keyed(SOURCE, RUN, "smoke", 0) == expected
    assert await jobs_of(admin, namespace) == [], "deleted once its outcome is read"


async def each_measurement_has_its_own_job(
    client: KubeClient, namespace: str, admin: KubeClient | None = None
) -> None:
    admin = admin or client
    provider = JobProvider(client, namespace, "web")
    for index in (0, 1):
        assert await provider.measure_keyed(SOURCE, RUN, "smoke", index) is None
    assert await provider.measure_keyed(SOURCE, "step-2@1764633999.0", "smoke", 0) is None
    names = {j["metadata"]["name"] for j in await jobs_of(admin, namespace)}
    assert len(names) == 3


async def a_job_past_its_timeout_is_an_error_and_removed(
    client: KubeClient, namespace: str, admin: KubeClient | None = None
) -> None:
    admin = admin or client
    provider = JobProvider(client, namespace, "web")
    assert await provider.measure_keyed(SOURCE, RUN, "smoke", 0) is None
    later = JobProvider(client, namespace, "web", clock=lambda: time.time() + 301)
    with pytest.raises(MetricsError, match="did not finish within 300s"):
        await later.measure_keyed(SOURCE, RUN, "smoke", 0)
    assert await jobs_of(admin, namespace) == []
