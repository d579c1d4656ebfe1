"""The job provider against the API stand-in (the real kube-apiserver runs the same scenarios in
tests/integration/realkube/test_execution.py)."""

from __future__ import annotations

import re

import pytest
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.integration.adapters.metrics import job_scenarios as scenarios

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.metrics.job import JobProvider, job_name
from serinus.core.analysis.spec import JobSource
from serinus.core.errors import MetricsError

pytestmark = pytest.mark.integration
NAMESPACE = "shop"


@pytest.mark.parametrize("outcome", ["Complete", "Failed"])
async def test_a_job_runs_until_it_completes_and_is_then_removed(
    kube_api: KubeApiStandIn, kube_client: KubeClient, outcome: str
) -> None:
    await scenarios.a_job_runs_until_it_completes_and_is_then_removed(
        kube_client, NAMESPACE, outcome
    )
    deletes = [r for r in kube_api.requests if r.verb == "delete" and r.plural == "jobs"]
    assert len(deletes) == 1


async def test_each_measurement_has_its_own_job(kube_client: KubeClient) -> None:
    await scenarios.each_measurement_has_its_own_job(kube_client, NAMESPACE)


async def test_a_job_past_its_timeout_is_an_error_and_removed(kube_client: KubeClient) -> None:
    await scenarios.a_job_past_its_timeout_is_an_error_and_removed(kube_client, NAMESPACE)


async def test_a_refused_create_is_an_error_naming_the_job(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    kube_api.forbid(verb="create", plural="jobs")
    provider = JobProvider(kube_client, NAMESPACE, "web")
    with pytest.raises(MetricsError, match=r"forbidden|Forbidden") as caught:
        await provider.measure_keyed(scenarios.SOURCE, scenarios.RUN, "smoke", 0)
    assert job_name("web", scenarios.RUN, "smoke", 0) in str(caught.value)


def test_the_job_belongs_to_its_rollout() -> None:
    provider = JobProvider(None, NAMESPACE, "web", owner_uid="1234")  # type: ignore[arg-type]
    manifest = provider.manifest("web-smoke-x", scenarios.SOURCE, "k")
    [owner] = manifest["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Rollout", "web", "1234")


def test_job_names_are_dns_labels_short_enough_for_the_pod_label() -> None:
    name = job_name("a" * 63, "step-0@1.0", "Metric_With.Odd__Chars" * 3, 12)
    assert len(name) <= 56
    assert name == name.lower() and all(c.isalnum() or c == "-" for c in name)
    assert not name.startswith("-") and not name.endswith("-")


@pytest.mark.parametrize(
    ("pod", "field"),
    [
        ({"containers": []}, "spec.template.spec.containers"),
        ({"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Always"}, "restartPolicy"),
        (
            {"containers": [{"name": "c", "image": "i"}], "serviceAccountName": "admin"},
            "set provider.job.serviceAccountName instead",
        ),
    ],
)
def test_a_job_that_cannot_run_as_specified_is_refused_by_lint(
    pod: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(field)):
        JobSource.model_validate(
            {"spec": {"template": {"spec": pod}}, "serviceAccountName": "smoke-tests"}
        )
