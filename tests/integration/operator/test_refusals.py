"""The operator never executes what a Rollout author wrote: a process workload, a command metric
or an author-chosen binary is refused with a condition naming the field, and nothing runs (each
would create a canary file). Only `--allow-author-commands` lets one run, which the last test
shows with the same spec, so the canary would have appeared had the guard failed."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.operator.world import (
    NAMESPACE,
    deployment_rollout,
    helm_rollout,
    new_version,
    operator,
    rollout_status,
    serve_rollouts,
    until,
    virtual_service,
)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import VIRTUAL_SERVICES
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.entrypoints.operator.reporting import CONDITION

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> AsyncIterator[KubeApiStandIn]:
    serve_rollouts(kube_api)
    for name in ("proc", "cmd", "helm", "env"):
        kube_api.put(VIRTUAL_SERVICES, virtual_service(name, {"host": f"{name}-blue"}))
    async with DeploymentController(kube_client, NAMESPACE).running():
        yield kube_api


def live(api: KubeApiStandIn, version: str) -> bool:
    status = rollout_status(api, "cmd")
    return status.get("phase") == "Completed" and status.get("message") == f"{version} is live"


def condition(api: KubeApiStandIn, name: str) -> dict[str, Any] | None:
    conditions = rollout_status(api, name).get("conditions") or []
    return next((c for c in conditions if c["type"] == CONDITION and c["status"] == "True"), None)


def process_rollout(canary: Path) -> dict[str, Any]:
    rollout = deployment_rollout("proc", "1.0", [{"setWeight": 100}])
    rollout["spec"]["workload"] = {"process": {"replicas": 1, "command": ["touch", str(canary)]}}
    return rollout


def command_rollout(canary: Path) -> dict[str, Any]:
    rollout = deployment_rollout("cmd", "1.0", [{"analysis": {"templates": ["smoke"]}}])
    rollout["spec"]["analysisTemplates"] = [
        {
            "name": "smoke",
            "metrics": [
                {
                    "name": "smoke",
                    "successCondition": "result[0] == 1",
                    "provider": {"command": {"command": ["touch", str(canary)]}},
                }
            ],
        }
    ]
    return rollout


def env_secret_rollout() -> dict[str, Any]:
    rollout = deployment_rollout("env", "1.0", [{"setWeight": 100}])
    rollout["spec"]["notifications"] = {
        "channels": [{"name": "team", "slack": {"webhookUrlFrom": {"env": "HOME"}}}],
        "subscriptions": [{"channel": "team", "events": ["*"]}],
    }
    return rollout


def evil_binary(folder: Path, canary: Path) -> Path:
    script = folder / "evil-helm"
    script.write_text(f"#!/bin/sh\ntouch {canary}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def test_nothing_a_rollout_names_runs_in_the_operator(
    cluster: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path
) -> None:
    api = cluster
    assert api.kubeconfig_path is not None
    canaries = {name: tmp_path / f"canary-{name}" for name in ("proc", "cmd", "helm")}
    helm = helm_rollout("1.0", {"istio": {"virtualService": {"name": "helm"}}})
    helm["metadata"]["name"] = "helm"
    helm["spec"]["workload"]["helm"]["helmBinary"] = str(evil_binary(tmp_path, canaries["helm"]))
    async with operator(api.kubeconfig_path, tmp_path / "op") as running:
        for body in (
            process_rollout(canaries["proc"]),
            command_rollout(canaries["cmd"]),
            helm,
            env_secret_rollout(),
        ):
            await kube_client.create(ROLLOUTS, NAMESPACE, body)
        expected = {
            "proc": ("ExecutionNotAllowed", "spec.workload.process:"),
            "cmd": (
                "ExecutionNotAllowed",
                "spec.analysisTemplates[0].metrics[0].provider.command:",
            ),
            "helm": ("ExecutionNotAllowed", "spec.workload.helm.helmBinary:"),
            "env": ("SecretSourceNotAllowed", "spec.notifications.channels[0].slack"),
        }
        for name, (reason, field) in expected.items():
            shown = await until(
                lambda n=name: condition(api, n), f"{name} refused", log=running.log
            )
            assert shown["reason"] == reason
            assert shown["message"].startswith(field), shown["message"]
            assert "--allow-author-commands" in shown["message"] or reason != "ExecutionNotAllowed"
        # Refused again on every retry (the log says so each time), never run.
        await until(
            lambda: running.log.read_text().count(f"{NAMESPACE}/cmd: ") >= 3,
            "three refused reconciles of cmd",
            log=running.log,
        )
    assert [path.name for path in canaries.values() if path.exists()] == []
    assert rollout_status(api, "cmd").get("phase") in (None, ""), "the rollout never started"


async def test_only_the_dangerous_flag_lets_an_author_command_run(
    cluster: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path
) -> None:
    api = cluster
    assert api.kubeconfig_path is not None
    canary = tmp_path / "canary-cmd"
    async with operator(api.kubeconfig_path, tmp_path / "op", "--allow-author-commands") as running:
        await kube_client.create(ROLLOUTS, NAMESPACE, command_rollout(canary))
        await until(lambda: live(api, "1.0"), "the first version live", log=running.log)
        new_version(api, "cmd", "1.1")  # the analysis step runs on an update
        await until(canary.exists, "the command metric to run", timeout=45, log=running.log)
        await until(
            lambda: live(api, "1.1"),
            "the rollout completing on its (allowed) command check",
            timeout=45,
            log=running.log,
        )
    assert "--allow-author-commands" in running.log.read_text()
