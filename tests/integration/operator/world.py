"""What the operator tests share: the Rollout CRD on the stand-in, the seed's objects and
Rollouts, an operator process, the cluster-mode CLI, and waiting for a condition.

The operator runs as a child process (as in production, and so it can be killed with SIGKILL);
the stand-in and the test-only Deployment controller run in the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from kube_stand_in.kubeapi import KubeApiStandIn

from serinus.adapters.kube.resources import (
    DESTINATION_RULES,
    HTTP_ROUTES,
    INGRESSES,
    VIRTUAL_SERVICES,
)
from serinus.adapters.stores.rollout_resource import ROLLOUTS

REPO = Path(__file__).resolve().parents[3]
CRD = REPO / "deploy" / "crds" / "rollouts.serinus.io.yaml"
GAME_CHART = REPO / "tests" / "integration" / "adapters" / "platforms" / "helm" / "charts" / "game"
NAMESPACE = "default"


def serve_rollouts(api: KubeApiStandIn) -> None:
    """Serve serinus's Rollout CRD (the generated manifest) on the stand-in."""
    api.register_crd_document(yaml.safe_load(CRD.read_text()))


# --- the seed's objects --------------------------------------------------------------------------


def virtual_service(name: str, destination: dict[str, Any]) -> dict[str, Any]:
    """A VirtualService with another team's route and the `primary` route serinus manages."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "hosts": [name],
            "http": [
                {
                    "name": "reports",
                    "match": [{"uri": {"prefix": "/reports"}}],
                    "route": [{"destination": {"host": "reports"}}],
                },
                {"name": "primary", "route": [{"destination": destination, "weight": 100}]},
            ],
        },
    }


def destination_rule(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "host": name,
            "subsets": [{"name": "blue", "labels": {"serinus.io/color": "blue"}}],
        },
    }


def http_route(name: str, service: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "rules": [{"backendRefs": [{"name": service, "port": 80, "weight": 100}]}],
        },
    }


def ingress(name: str, service: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": f"{name}.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


# Each router of the seed's pipeline over the helm chart `game` (Services `game-<color>-game`).
HELM_SERVICES = {"blue": "game-blue-game", "green": "game-green-game"}
ROUTERS: dict[str, tuple[dict[str, Any], list[tuple[Any, dict[str, Any]]]]] = {
    "istio-host": (
        {
            "istio": {
                "virtualService": {"name": "game", "routes": ["primary"]},
                "hosts": HELM_SERVICES,
            }
        },
        [(VIRTUAL_SERVICES, virtual_service("game", {"host": "game-blue-game"}))],
    ),
    "istio-subset": (
        {
            "istio": {
                "virtualService": {"name": "game", "routes": ["primary"]},
                "destinationRule": {"name": "game"},
            }
        },
        [
            (DESTINATION_RULES, destination_rule("game")),
            (VIRTUAL_SERVICES, virtual_service("game", {"host": "game", "subset": "blue"})),
        ],
    ),
    "gatewayAPI": (
        {"gatewayAPI": {"httpRoute": "game", "services": HELM_SERVICES}},
        [(HTTP_ROUTES, http_route("game", "game-blue-game"))],
    ),
    "nginx": (
        {"nginx": {"stableIngress": "game", "services": HELM_SERVICES}},
        [(INGRESSES, ingress("game", "game-blue-game"))],
    ),
}

SEED_STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"judgement": {"instructions": "Check Grafana and Jaeger for the green servers."}},
    {"setWeight": 100},
]


def deployment_rollout(name: str, version: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The seed's pipeline: a Deployment per color, host-level Istio routing."""
    return {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "version": version,
            "workload": {
                "deployment": {
                    "replicas": 2,
                    "selector": {"app": name},
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": name, "image": f"registry.example.com/{name}:{version}"}
                            ]
                        }
                    },
                    "service": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
                }
            },
            "strategy": {"blueGreenCanary": {"scaleDownDelay": "0s", "steps": steps}},
            "trafficRouting": {"istio": {"virtualService": {"name": name, "routes": ["primary"]}}},
        },
    }


def helm_rollout(
    version: str, routing: dict[str, Any], helm: str | None = None, chart: Path = GAME_CHART
) -> dict[str, Any]:
    """The seed's pipeline with the service set rendered from its Helm chart. `helm` sets
    helmBinary, which only the local mode runs (the operator uses its own $SERINUS_HELM)."""
    rollout = {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "game", "namespace": NAMESPACE},
        "spec": {
            "version": version,
            "workload": {
                "helm": {
                    "chart": str(chart),
                    "values": {"replicaCount": 2, "ingress": {"host": "play.example.com"}},
                    "set": {"image.repository": "registry.example.com/game"},
                }
            },
            "strategy": {"blueGreenCanary": {"scaleDownDelay": "0s", "steps": SEED_STEPS}},
            "trafficRouting": routing,
        },
    }
    if helm is not None:
        rollout["spec"]["workload"]["helm"]["helmBinary"] = helm
    return rollout


def rollout_status(api: KubeApiStandIn, name: str) -> dict[str, Any]:
    stored = api.stored(ROLLOUTS, NAMESPACE, name) or {}
    return dict(stored.get("status") or {})


def new_version(api: KubeApiStandIn, name: str, version: str) -> None:
    """`kubectl apply` of the next version: spec.version and the image change."""

    def change(rollout: dict[str, Any]) -> None:
        spec = rollout["spec"]
        spec["version"] = version
        deployment = spec["workload"].get("deployment")
        if deployment is not None:
            container = deployment["template"]["spec"]["containers"][0]
            container["image"] = f"registry.example.com/{name}:{version}"

    api.edit(ROLLOUTS, NAMESPACE, name, change)


# --- processes -----------------------------------------------------------------------------------


async def until(
    check: Callable[[], Any], what: str, timeout: float = 30.0, log: Path | None = None
) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` (and the log)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            tail = log.read_text()[-4000:] if log is not None and log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n--- operator log ---\n{tail}")
        await asyncio.sleep(0.1)


class OperatorProcess:
    """`serinus operator` in a child process against the stand-in."""

    def __init__(
        self,
        kubeconfig: Path,
        folder: Path,
        *extra: str,
        watch: tuple[str, ...] = ("--namespace", NAMESPACE),
        env: dict[str, str] | None = None,
        api: bool = False,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.api = api  # serve the REST API on a free port (its URL: `api_url`)
        self.folder = folder
        self.extra = extra
        self.watch = watch  # --namespace NS (repeatable) or --all-namespaces
        self.env = env or {}
        self.log = folder / "operator.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "SERINUS_STATE_DIR": str(self.folder / "state"),
            "HOME": str(self.folder),
            **self.env,
        }
        with self.log.open("a") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "serinus.entrypoints.cli",
                "operator",
                *self.watch,
                "--kubeconfig",
                str(self.kubeconfig),
                "--bind-address",
                "127.0.0.1",
                "--metrics-port",
                "0",
                *(("--api-port", "0") if self.api else ("--no-api",)),
                "--poll-seconds",
                "0.2",
                "--lease-duration",
                "3",
                *self.extra,
                env=env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )

    def api_url(self) -> str | None:
        """The REST API's URL once the operator logged it (None before)."""
        found = re.search(r"API and dashboard on (\S+)", self.log.read_text())
        return found.group(1) if found else None

    def kill(self) -> None:
        """SIGKILL: no cleanup at all (the Lease is not released, nothing is flushed)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        return process.returncode


@contextlib.asynccontextmanager
async def operator(
    kubeconfig: Path, folder: Path, *extra: str, **options: Any
) -> AsyncIterator[OperatorProcess]:
    running = OperatorProcess(kubeconfig, folder, *extra, **options)
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


async def serinus(*args: str, kubeconfig: Path) -> tuple[int, str]:
    """The `serinus` CLI in a child process; returns its exit code and output."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "serinus.entrypoints.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return int(process.returncode or 0), output.decode()
