"""The seed's pipeline on the real API server, one workload x router pair in its own namespace.

v1 is rolled out to Completed; v2 goes to 10%, waits at the judgement, is approved through the
cluster-mode CLI (as a person would) and reaches 100%; v3 goes to 10% and is aborted through the
CLI: all traffic back to v2. Weights are read from the routing objects themselves (the router's
own reading), not only from the status the operator writes; at each stop the pods found by the
rollout label (what the platforms' pod LIST and watch select) are counted. The test plays the
Deployment controller: the server has none.
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from real_kube import RealKube
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.operator.world import (
    GAME_CHART,
    ROUTERS,
    SEED_STEPS,
    deployment_rollout,
    helm_rollout,
    serinus,
    until,
)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import PODS, ObjectRef
from serinus.adapters.platforms.kube_workloads import ROLLOUT_LABEL
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.app.registry import AdapterContext, build_router
from serinus.core.spec import Rollout

WORKLOADS = ("deployment", "helm")
NAME = "game"  # the helm chart `game` renders game-<color>-game; the Deployment rollout alike


def in_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    moved = copy.deepcopy(obj)
    moved["metadata"]["namespace"] = namespace
    return moved


def rollout_document(workload: str, router: str, version: str, namespace: str) -> dict[str, Any]:
    routing, _ = ROUTERS[router]
    if workload == "helm":
        document = helm_rollout(version, routing, helm="unused", chart=GAME_CHART)
        del document["spec"]["workload"]["helm"]["helmBinary"]  # the operator's own helm runs
    else:
        document = deployment_rollout(NAME, version, SEED_STEPS)
        document["spec"]["trafficRouting"] = copy.deepcopy(routing)
        # The router names the Services of each color: the deployment platform's are NAME-<color>.
        for kind in ("istio", "gatewayAPI", "nginx"):
            hosts = document["spec"]["trafficRouting"].get(kind, {})
            for key in ("hosts", "services"):
                if key in hosts:
                    hosts[key] = {"blue": f"{NAME}-blue", "green": f"{NAME}-green"}
    return in_namespace(document, namespace)


def seed_objects(workload: str, router: str, namespace: str) -> list[dict[str, Any]]:
    """The routing objects other teams own, pointing at blue's Service."""
    _, objects = ROUTERS[router]
    blue = "game-blue-game" if workload == "helm" else f"{NAME}-blue"
    return [in_namespace(_renamed(obj, "game-blue-game", blue), namespace) for _, obj in objects]


def _renamed(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {key: _renamed(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, old, new) for item in value]
    return new if value == old else value


@dataclass
class Trace:
    """What one pipeline saw: weights at each stop and how long each stage took."""

    weights: dict[str, dict[str, int]] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    labelled_pods: dict[str, int] = field(default_factory=dict)  # by `serinus.io/rollout`


@dataclass
class Pipeline:
    kube: RealKube
    client: KubeClient  # the admin's (the test's own reads and writes)
    workload: str
    router: str
    namespace: str
    folder: Path
    log: Path  # the operator's log, quoted when a wait times out
    trace: Trace = field(default_factory=Trace)

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(ROLLOUTS, self.namespace, NAME)

    async def run(self) -> Trace:
        for obj in seed_objects(self.workload, self.router, self.namespace):
            self.kube.apply(obj)
        async with DeploymentController(self.client, self.namespace, period=0.25).running():
            await self._stage("v1", "1.0.0", "Completed")
            await self._stage("v2 at the gate", "1.1.0", "AwaitingJudgement")
            await self._cli("judge", NAME, "--approve", "-m", "dashboards look fine")
            await self._wait("v2 completed", "Completed")
            await self._stage("v3 at the gate", "1.2.0", "AwaitingJudgement")
            await self._cli("abort", NAME)
            await self._wait("v3 aborted", "Aborted")
        return self.trace

    async def _stage(self, label: str, version: str, phase: str) -> None:
        document = rollout_document(self.workload, self.router, version, self.namespace)
        current = await self.client.get_or_none(self.ref)
        if current is None:
            await self.client.create(ROLLOUTS, self.namespace, document)
        else:  # the operator writes status meanwhile: retry on a stale resourceVersion
            await self.client.read_modify_write(self.ref, lambda c: {**c, "spec": document["spec"]})
        await self._wait(label, phase, version)

    async def _wait(self, label: str, phase: str, version: str | None = None) -> None:
        started = time.monotonic()

        async def reached() -> bool:
            rollout = await self.client.get(self.ref)
            status = rollout.get("status") or {}
            seen = status.get("phase") == phase
            return seen and (version is None or rollout["spec"]["version"] == version)

        await until(reached, f"{self.workload} x {self.router}: {label}", 240, self.log)
        self.trace.seconds[label] = time.monotonic() - started
        self.trace.phases[label] = phase
        self.trace.weights[label] = await self.router_weights()
        pods = await self.client.list(
            PODS, self.namespace, label_selector=f"{ROLLOUT_LABEL}={NAME}"
        )
        self.trace.labelled_pods[label] = len(pods.items)

    async def router_weights(self) -> dict[str, int]:
        """The weights as the router reads them from its objects on the server."""
        rollout = await self.client.get(self.ref)
        metadata = {"name": NAME, "namespace": self.namespace}
        model = Rollout.model_validate(
            {
                "apiVersion": rollout["apiVersion"],
                "kind": "Rollout",
                "metadata": metadata,
                "spec": rollout["spec"],
            }
        )
        context = AdapterContext(rollout=model, state_dir=self.folder, kube=self.client)
        return dict(await build_router(context).read_weights())

    async def _cli(self, *args: str) -> None:
        code, output = await serinus(
            *args, "-n", self.namespace, kubeconfig=self.kube.admin_kubeconfig
        )
        assert code == 0, f"serinus {' '.join(args)}: {output}"


async def run_all(pipelines: list[Pipeline]) -> dict[tuple[str, str], Trace | BaseException]:
    """Every pipeline at once (one operator drives them all); a failure is kept, not raised."""
    results = await asyncio.gather(*(p.run() for p in pipelines), return_exceptions=True)
    return {(p.workload, p.router): r for p, r in zip(pipelines, results, strict=True)}
