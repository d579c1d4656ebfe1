"""What wakes a rollout in the operator, on the real API server, with no timer to help.

The operator runs with its longest poll (60 s), so within the 30 s deadline only a watch event
can make it act:
- someone sets the VirtualService of a paused rollout back to all-blue by hand: the operator,
  woken by the cache's watch of that object, writes its 50 % back;
- an abort recorded in the Rollout's status (as the cluster-mode CLI records it) puts all
  traffic on stable.
"""

from __future__ import annotations

import asyncio
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
from tests.integration.realkube.pipeline import in_namespace

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import VIRTUAL_SERVICES, ObjectRef
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.app import operations
from serinus.core.intents import IntentKind

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("realkube-wakes")]

NAME = "shop"
STEPS: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]
POLL = 60.0  # seconds: the longest the operator allows
DEADLINE = 30.0  # seconds, for a wake: half the poll, room for a busy machine
STAGE = 180.0  # seconds, for a rollout stage


async def green_weight(client: KubeClient, namespace: str) -> int | None:
    vs = await client.get(ObjectRef(VIRTUAL_SERVICES, namespace, NAME), cached=False)
    primary = next(r for r in vs["spec"]["http"] if r["name"] == "primary")
    return sum(int(d.get("weight", 0)) for d in primary["route"] if "green" in str(d))


async def phase(client: KubeClient, namespace: str) -> str:
    rollout = await client.get(ObjectRef(ROLLOUTS, namespace, NAME), cached=False)
    return str((rollout.get("status") or {}).get("phase", ""))


def all_blue(vs: dict[str, Any]) -> dict[str, Any]:
    """The hand edit: every request of the managed route to blue."""
    primary = next(r for r in vs["spec"]["http"] if r["name"] == "primary")
    for destination in primary["route"]:
        destination["weight"] = 0 if "green" in str(destination) else 100
    return vs


def test_a_hand_edit_of_the_routing_object_and_an_abort_wake_the_rollout(
    real_kube: RealKube, tmp_path: Path
) -> None:
    real_kube.install_crds(ISTIO_CRDS)
    namespace = real_kube.new_namespace("wakes")
    operator = OperatorProcess(
        real_kube.admin_kubeconfig,
        tmp_path / "operator",
        "--no-leader-election",
        "--poll-seconds",
        str(POLL),
        watch=("--namespace", namespace),
    )
    log = operator.log
    ref = ObjectRef(ROLLOUTS, namespace, NAME)
    vs_ref = ObjectRef(VIRTUAL_SERVICES, namespace, NAME)

    async def scenario() -> None:
        async with real_kube.client(namespace=namespace) as admin:
            await admin.create(
                VIRTUAL_SERVICES,
                namespace,
                in_namespace(virtual_service(NAME, {"host": f"{NAME}-blue"}), namespace),
            )
            await admin.create(
                ROLLOUTS, namespace, in_namespace(deployment_rollout(NAME, "1", STEPS), namespace)
            )
            await operator.start()
            try:
                async with DeploymentController(admin, namespace, period=0.2).running():
                    await until(lambda: _is(phase(admin, namespace), "Completed"), "v1", STAGE, log)
                    await admin.read_modify_write(
                        ref, lambda r: {**r, "spec": {**r["spec"], "version": "2"}}
                    )
                    await until(lambda: _is(phase(admin, namespace), "Paused"), "v2", STAGE, log)
                    assert await green_weight(admin, namespace) == 50
                    await admin.read_modify_write(vs_ref, all_blue)
                    await until(
                        lambda: _is(green_weight(admin, namespace), 50),
                        "the operator writing its 50 % back",
                        DEADLINE,
                        log,
                    )
                    store = KubernetesStateStore(admin, namespace, component="test")
                    await operations.request(
                        store, NAME, IntentKind.ABORT, actor="test", source="test"
                    )
                    await until(
                        lambda: _is(green_weight(admin, namespace), 0), "abort", DEADLINE, log
                    )
            finally:
                await operator.stop()

    asyncio.run(scenario())


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
