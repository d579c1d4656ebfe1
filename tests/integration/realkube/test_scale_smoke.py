"""The event-driven operator on the real API server, at small scale, with the chart's RBAC.

Ten Rollouts (a Deployment per color, host-level Istio routing, a timed pause) go to Completed
at v1, then through v2. The operator's reads of Deployments, pods, Services and VirtualServices
come from its watch cache: once every Rollout is Completed it makes no LIST at all (the audit
log of its ServiceAccount over a window longer than the old 30 s re-reconcile timer), and none
of its requests is refused by the chart's Role (which grants list/watch for the cache).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from real_kube import ISTIO_CRDS, RealKube
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.operator.world import (
    OperatorProcess,
    deployment_rollout,
    until,
    virtual_service,
)
from tests.integration.realkube.chart import deploy_chart_rbac, helm_binary, operator_kubeconfig
from tests.integration.realkube.pipeline import in_namespace

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import VIRTUAL_SERVICES, ObjectRef
from serinus.adapters.stores.rollout_resource import ROLLOUTS

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("realkube-scale-smoke")]

ROLLOUTS_N = 10
IDLE_WINDOW = 40.0  # seconds; longer than the 30 s timer that used to re-list every Rollout


STEPS: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {"duration": "1s"}}, {"setWeight": 100}]


def rollout(name: str, namespace: str, version: str) -> dict[str, Any]:
    return in_namespace(deployment_rollout(name, version, STEPS), namespace)


async def completed(client: KubeClient, namespace: str, names: list[str], version: str) -> bool:
    for name in names:
        status = (await client.get(ObjectRef(ROLLOUTS, namespace, name))).get("status") or {}
        if status.get("phase") != "Completed" or status.get("stableVersion") != version:
            return False
    return True


def test_the_cached_operator_completes_rollouts_and_an_idle_one_costs_no_list(
    real_kube: RealKube, tmp_path: Path
) -> None:
    real_kube.install_crds(ISTIO_CRDS)
    release = real_kube.new_namespace("serinus-system")
    watched = real_kube.new_namespace("scale")
    values = f"watchNamespace={watched}"
    rbac = deploy_chart_rbac(real_kube, "serinus", release, tmp_path / "helm", values)
    kubeconfig = operator_kubeconfig(real_kube, rbac, "serinus-0", tmp_path / "kubeconfig")
    operator = OperatorProcess(
        kubeconfig,
        tmp_path / "operator",
        "--no-leader-election",
        watch=("--namespace", watched),
        env={"SERINUS_HELM": helm_binary()},
    )
    names = [f"app{i}" for i in range(ROLLOUTS_N)]
    log = operator.log

    async def scenario() -> None:
        async with real_kube.client(namespace=watched) as admin:
            for name in names:
                await admin.create(
                    VIRTUAL_SERVICES,
                    watched,
                    in_namespace(virtual_service(name, {"host": f"{name}-blue"}), watched),
                )
                await admin.create(ROLLOUTS, watched, rollout(name, watched, "1"))
            await operator.start()
            try:
                async with DeploymentController(admin, watched, period=0.5).running():
                    await until(lambda: completed(admin, watched, names, "1"), "v1", 180, log)
                    for name in names:
                        await admin.read_modify_write(
                            ObjectRef(ROLLOUTS, watched, name),
                            lambda r: {**r, "spec": {**r["spec"], "version": "2"}},
                        )
                    await until(lambda: completed(admin, watched, names, "2"), "v2", 180, log)
                    for name in names:
                        vs = await admin.get(ObjectRef(VIRTUAL_SERVICES, watched, name))
                        primary = next(r for r in vs["spec"]["http"] if r["name"] == "primary")
                        weights = {
                            d["destination"]["host"]: d.get("weight", 100) for d in primary["route"]
                        }
                        assert max(weights.values()) == 100, (name, weights)
                    settled = len(real_kube.audit_events(rbac.user))
                    started = time.monotonic()
                    # A measurement window: the claim is that nothing happens during it.
                    await asyncio.sleep(IDLE_WINDOW)
                    idle = real_kube.audit_events(rbac.user)[settled:]
                    elapsed = time.monotonic() - started
            finally:
                await operator.stop()
        lists = [f"{e.verb} {e.resource} {e.uri}" for e in idle if e.verb == "list"]
        assert lists == [], f"LISTs while every Rollout was Completed ({elapsed:.0f} s): {lists}"
        refused = [
            f"{e.verb} {e.resource} {e.code}"
            for e in real_kube.audit_events(rbac.user)
            if e.code in (401, 403)
        ]
        assert refused == [], "the chart's Role allows every request the operator made"

    asyncio.run(scenario())
