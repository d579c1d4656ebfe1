"""On the real API server, with the chart's RBAC (one namespace, `analysis.jobs=true`):

- a Rollout with a process workload or a command metric is refused with an ExecutionNotAllowed
  condition naming the field, and nothing runs in the operator (each would create a canary file);
- a Job-based check runs: the operator creates the Job under the named ServiceAccount, reads its
  outcome and removes it, with only get/create/delete on Jobs; it passes and fails a rollout.
The test plays the Deployment and Job controllers (the server runs none).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from real_kube import ISTIO_CRDS, RealKube
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.adapters.metrics import job_scenarios as scenarios
from tests.integration.operator.test_job_analysis import JobController, job_rollout
from tests.integration.operator.test_refusals import command_rollout, process_rollout
from tests.integration.operator.world import OperatorProcess, until, virtual_service
from tests.integration.realkube.chart import (
    ChartRbac,
    deploy_chart_rbac,
    helm_binary,
    operator_kubeconfig,
)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import ObjectRef
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.entrypoints.operator.reporting import CONDITION

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("realkube-execution")]


@dataclass(frozen=True)
class Install:
    kube: RealKube
    rbac: ChartRbac
    watched: str
    folder: Path

    def operator(self, pod: str) -> OperatorProcess:
        kubeconfig = operator_kubeconfig(self.kube, self.rbac, pod, self.folder / f"{pod}.kc")
        return OperatorProcess(
            kubeconfig,
            self.folder / pod,
            "--lease-namespace",
            self.rbac.namespace,
            watch=("--namespace", self.watched),
            env={"SERINUS_HELM": helm_binary()},
        )

    def operator_token(self, pod: str) -> str:
        return self.kube.service_account_token(self.rbac.namespace, self.rbac.account, pod=pod)


@pytest.fixture(scope="module")
def install(real_kube: RealKube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    folder = tmp_path_factory.mktemp("execution")
    real_kube.install_crds(ISTIO_CRDS)
    release = real_kube.new_namespace("serinus-system")
    watched = real_kube.new_namespace("shop")
    rbac = deploy_chart_rbac(
        real_kube,
        "serinus",
        release,
        folder / "helm",
        f"watchNamespace={watched}",
        "analysis.jobs=true",
    )
    yield Install(real_kube, rbac, watched, folder)


def moved(document: dict[str, Any], namespace: str) -> dict[str, Any]:
    document["metadata"]["namespace"] = namespace
    return document


async def error_condition(client: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    rollout = await client.get_or_none(ObjectRef(ROLLOUTS, namespace, name))
    conditions = ((rollout or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == CONDITION and c["status"] == "True"), None)


def test_author_commands_are_refused_and_never_run(install: Install, tmp_path: Path) -> None:
    kube, watched = install.kube, install.watched
    canaries = {"proc": tmp_path / "canary-proc", "cmd": tmp_path / "canary-cmd"}

    async def scenario() -> None:
        async with kube.client() as admin:
            for name in canaries:
                kube.apply(moved(virtual_service(name, {"host": f"{name}-blue"}), watched))
            await admin.create(ROLLOUTS, watched, moved(process_rollout(canaries["proc"]), watched))
            await admin.create(ROLLOUTS, watched, moved(command_rollout(canaries["cmd"]), watched))
            replica = install.operator("serinus-refusing")
            await replica.start()
            try:
                for name, field in (
                    ("proc", "spec.workload.process:"),
                    ("cmd", "spec.analysisTemplates[0].metrics[0].provider.command:"),
                ):

                    async def shown(n: str = name) -> dict[str, Any] | None:
                        return await error_condition(admin, watched, n)

                    found = await until(shown, f"{name} refused", 60, replica.log)
                    assert found["reason"] == "ExecutionNotAllowed"
                    assert found["message"].startswith(field), found["message"]
                await until(
                    lambda: replica.log.read_text().count(f"{watched}/cmd: ") >= 3,
                    "three refused reconciles",
                    60,
                    replica.log,
                )
            finally:
                await replica.stop()

    asyncio.run(scenario())
    assert [p.name for p in canaries.values() if p.exists()] == []
    writes = [
        e
        for e in kube.audit_events(install.rbac.user)
        if e.verb in ("create", "update", "patch", "delete") and e.namespace == install.watched
    ]
    assert {(e.resource, e.subresource) for e in writes} <= {("rollouts", "status")}, (
        "a refused Rollout provisions nothing"
    )


@pytest.mark.parametrize("outcome", ["Complete", "Failed"])
def test_the_job_provider_with_the_charts_rights(install: Install, outcome: str) -> None:
    kube, namespace = install.kube, install.watched
    token = install.operator_token(f"serinus-jobs-{outcome.lower()}")

    async def scenario() -> None:
        async with kube.client() as admin, kube.client(token) as operator:
            await scenarios.a_job_runs_until_it_completes_and_is_then_removed(
                operator, namespace, outcome, admin=admin
            )
            if outcome == "Complete":
                await scenarios.a_job_past_its_timeout_is_an_error_and_removed(
                    operator, namespace, admin=admin
                )

    asyncio.run(scenario())


@pytest.mark.parametrize(("outcome", "phase"), [("Complete", "Completed"), ("Failed", "Aborted")])
def test_a_job_check_passes_or_fails_a_rollout(install: Install, outcome: str, phase: str) -> None:
    kube, watched = install.kube, install.watched
    name = "web"

    async def status(admin: KubeClient) -> dict[str, Any]:
        rollout = await admin.get_or_none(ObjectRef(ROLLOUTS, watched, name))
        return dict((rollout or {}).get("status") or {})

    async def scenario() -> list[dict[str, Any]]:
        async with kube.client() as admin:
            existing = await admin.get_or_none(ObjectRef(ROLLOUTS, watched, name))
            if existing is not None:
                await admin.delete(ObjectRef(ROLLOUTS, watched, name))
            kube.apply(moved(virtual_service(name, {"host": f"{name}-blue"}), watched))
            await admin.create(ROLLOUTS, watched, moved(job_rollout(), watched))
            replica = install.operator(f"serinus-job-{outcome.lower()}")
            await replica.start()
            try:
                async with (
                    DeploymentController(admin, watched, period=0.25).running(),
                    JobController(admin, outcome, namespace=watched).running() as jobs,
                ):

                    async def live(version: str) -> bool:
                        now = await status(admin)
                        return (now.get("phase"), now.get("message")) == (
                            "Completed",
                            f"{version} is live",
                        )

                    await until(lambda: live("1.0"), "1.0 live", 60, replica.log)
                    await admin.read_modify_write(
                        ObjectRef(ROLLOUTS, watched, name),
                        lambda r: {**r, "spec": {**r["spec"], "version": "1.1"}},
                    )

                    async def ended() -> bool:
                        now = await status(admin)
                        wanted = "1.1 is live" if phase == "Completed" else None
                        return now.get("phase") == phase and wanted in (None, now.get("message"))

                    await until(ended, f"{phase} after the Job", 60, replica.log)
                    return jobs.seen
            finally:
                await replica.stop()

    seen = asyncio.run(scenario())
    [job] = seen
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "smoke-tests"
    requests = {
        (e.verb, e.resource)
        for e in kube.audit_events(install.rbac.user)
        if e.resource == "jobs" and e.namespace == watched
    }
    assert {("create", "jobs"), ("get", "jobs"), ("delete", "jobs")} <= requests
    refused = [e for e in kube.audit_events(install.rbac.user) if e.code in (401, 403)]
    assert refused == [], "the chart's RBAC allows every request the operator made"
