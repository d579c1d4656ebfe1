"""Operator scale: one `serinus operator` process driving N Rollouts at once through weight steps.

Setup: the Kubernetes API stand-in (tests/support/kube_stand_in) runs in a thread of this script,
with the test-only Deployment controller (tests/contract/platforms/kube_controller.py: the
stand-in runs no pods, it marks Deployments ready). N Rollouts (deployment workload, 1 replica
per color, host-level Istio routing, each with its own VirtualService) are applied and brought
to Completed at v1. Then all N get v2 at once, with the steps

    setWeight 25 -> pause 1s -> setWeight 50 -> pause 1s -> setWeight 75 -> pause 1s
    -> setWeight 100

Measured, from the requests the stand-in receives (same machine, same wall clock):
- **pause-to-weight delay**: for each timed pause, from its due time (the step's start as the
  operator saved it in the Rollout's status, plus the duration) to the VirtualService write
  carrying the next weight; p50/p99/max over N x 3 pauses;
- the operator process's CPU (percent of one core, mean over the measured phase) and memory
  (peak RSS), sampled with psutil every 0.5 s;
- the wall time of the phase (v2 applied -> every Rollout Completed).

Honest limits: the stand-in is a Python server sharing this script's process with the Deployment
controller, and each of the operator's reconciles lists Deployments and pods by label, which
the stand-in answers by scanning every stored object; at large N the stand-in, not the operator,
may bound the figures (the JSON reports the stand-in's request count).

With `--real`, the same scenario runs against a real kube-apiserver + etcd on loopback
(tests/support/real_kube.py; build it with scripts/kube-apiserver.sh). The operator runs as a
ServiceAccount bound to cluster-admin, so the server's audit log separates its requests from the
script's; pause starts and weight writes come from watches on the Rollouts and VirtualServices
(a few milliseconds after the write). Also reported: the operator's API requests per Rollout
per minute while idle (every Rollout Completed, over `--idle-window` seconds) and while
progressing, with the verbs and resources that make them up.

    python benchmarks/operator_scale.py [--rollouts 100] [--poll 1.0] [--real]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from local_bench import median, percentile, print_json

REPO = Path(__file__).resolve().parents[1]
# The test-only Deployment controller and API stand-in live under tests/ (not in the wheel).
sys.path[:0] = [str(REPO), str(REPO / "tests" / "support")]

from kube_stand_in.kube_fixtures import shared_schemas  # noqa: E402
from kube_stand_in.kubeapi import ApiRequest, KubeApiStandIn  # noqa: E402
from tests.contract.platforms.kube_controller import DeploymentController  # noqa: E402

from serinus.adapters.kube.client import KubeClient  # noqa: E402
from serinus.adapters.kube.resources import VIRTUAL_SERVICES  # noqa: E402
from serinus.adapters.stores.rollout_resource import ROLLOUTS  # noqa: E402
from serinus.core.status import RolloutStatus  # noqa: E402

NAMESPACE = "bench"
PAUSE_SECONDS = 1.0
STEPS: list[dict[str, Any]] = [
    {"setWeight": 25},
    {"pause": {"duration": f"{PAUSE_SECONDS:g}s"}},
    {"setWeight": 50},
    {"pause": {"duration": f"{PAUSE_SECONDS:g}s"}},
    {"setWeight": 75},
    {"pause": {"duration": f"{PAUSE_SECONDS:g}s"}},
    {"setWeight": 100},
]
# The pause at step i is followed by the setWeight at step i + 1.
PAUSES = {i: STEPS[i + 1]["setWeight"] for i, step in enumerate(STEPS) if "pause" in step}


def rollout(name: str, version: str) -> dict[str, Any]:
    return {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "version": version,
            "workload": {
                "deployment": {
                    "replicas": 1,
                    "selector": {"app": name},
                    "template": {"spec": {"containers": [{"name": "app", "image": "app:1"}]}},
                    "service": {"ports": [{"port": 80}]},
                }
            },
            "strategy": {"blueGreenCanary": {"scaleDownDelay": "0s", "steps": STEPS}},
            "trafficRouting": {"istio": {"virtualService": {"name": name}}},
        },
    }


def virtual_service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "hosts": [name],
            "http": [{"route": [{"destination": {"host": f"{name}-blue"}, "weight": 100}]}],
        },
    }


class Recorder:
    """Timestamps of VirtualService weight writes and of pause starts, from the stand-in's hook."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.recording = False
        self.weight_writes: dict[str, list[tuple[float, int]]] = {}  # rollout -> (at, green %)
        self.pause_starts: dict[tuple[str, int], float] = {}  # (rollout, step) -> started at
        self.requests = 0

    def hook(self, request: ApiRequest) -> None:
        now = time.time()
        self.requests += 1
        if not self.recording or request.verb != "update" or request.name is None:
            return
        if request.plural == "virtualservices":
            route = request.body["spec"]["http"][0]["route"]
            green = sum(
                int(d.get("weight", 0)) for d in route if "green" in d["destination"]["host"]
            )
            with self.lock:
                self.weight_writes.setdefault(request.name, []).append((now, green))
        elif request.plural == "rollouts" and request.subresource == "status":
            stored = (request.body.get("status") or {}).get("serinus")
            if stored is None:
                return
            status = RolloutStatus.from_storage(stored)
            if status.step_index in PAUSES and status.step_started_at is not None:
                with self.lock:
                    key = (request.name, status.step_index)
                    self.pause_starts.setdefault(key, status.step_started_at)

    def delays(self) -> list[float]:
        found = []
        for (name, step), started in self.pause_starts.items():
            due = started + PAUSE_SECONDS
            weight = PAUSES[step]
            writes = [at for at, green in self.weight_writes.get(name, []) if green == weight]
            if writes:
                found.append(min(writes) - due)
        return found


async def phases(api: KubeApiStandIn, names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        stored = api.stored(ROLLOUTS, NAMESPACE, name) or {}
        phase = str((stored.get("status") or {}).get("phase") or "-")
        counts[phase] = counts.get(phase, 0) + 1
    return counts


async def all_completed(
    api: KubeApiStandIn, names: list[str], version: str, timeout: float, trim: KubeApiStandIn
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = 0
        for name in names:
            status = (api.stored(ROLLOUTS, NAMESPACE, name) or {}).get("status") or {}
            done += status.get("phase") == "Completed" and status.get("stableVersion") == version
        trim.requests.clear()  # the stand-in keeps every request; the hook has what we need
        if done == len(names):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out at {version}: {await phases(api, names)}")
        await asyncio.sleep(0.5)


async def sample(
    process: psutil.Process, into: list[tuple[float, int]], stop: asyncio.Event
) -> None:
    process.cpu_percent(None)
    while not stop.is_set():
        await asyncio.sleep(0.5)
        with process.oneshot():
            into.append((process.cpu_percent(None), process.memory_info().rss))


async def main(rollouts: int, poll: float, timeout: float) -> None:
    recorder = Recorder()
    api = KubeApiStandIn(schemas=shared_schemas())  # serves Istio's real CRDs
    api.register_crd_document(
        __import__("yaml").safe_load((REPO / "deploy/crds/rollouts.serinus.io.yaml").read_text())
    )
    api.add_hook(recorder.hook)
    names = [f"r{i:04d}" for i in range(rollouts)]
    with tempfile.TemporaryDirectory(prefix="serinus-scale-") as folder, api.serving_in_thread():
        kubeconfig = api.write_kubeconfig(Path(folder) / "kubeconfig", NAMESPACE)
        for name in names:
            api.put(VIRTUAL_SERVICES, virtual_service(name))
            api.put(ROLLOUTS, rollout(name, "1"))
        log = (Path(folder) / "operator.log").open("w")
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "SERINUS_STATE_DIR": folder}
        operator = subprocess.Popen(
            [sys.executable, "-m", "serinus.entrypoints.cli", "operator", "-n", NAMESPACE,
             "--no-leader-election", "--no-api", "--metrics-port", "0", "--bind-address",
             "127.0.0.1", "--poll-seconds", str(poll), "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            async with KubeClient.from_kubeconfig(kubeconfig) as client:
                controller = DeploymentController(client, NAMESPACE, period=1.0)
                async with controller.running():
                    started = time.monotonic()
                    await all_completed(api, names, "1", timeout, api)
                    v1_seconds = time.monotonic() - started

                    recorder.recording = True
                    samples: list[tuple[float, int]] = []
                    stop = asyncio.Event()
                    sampling = asyncio.create_task(
                        sample(psutil.Process(operator.pid), samples, stop)
                    )
                    requests_before = recorder.requests
                    started = time.monotonic()
                    for name in names:
                        api.edit(ROLLOUTS, NAMESPACE, name,
                                 lambda r: r["spec"].__setitem__("version", "2"))  # fmt: skip
                    await all_completed(api, names, "2", timeout, api)
                    v2_seconds = time.monotonic() - started
                    stop.set()
                    await sampling
        finally:
            operator.terminate()
            try:
                operator.wait(30)
            except subprocess.TimeoutExpired:
                operator.kill()
                operator.wait()
            log.close()
    delays = recorder.delays()
    if not delays:
        raise SystemExit("no pause-to-weight delay measured")
    cpu = [c for c, _ in samples] or [0.0]
    figures = {
        "rollouts": rollouts,
        "pollSeconds": poll,
        "pausesMeasured": len(delays),
        "pausesExpected": rollouts * len(PAUSES),
        "delayP50Seconds": round(percentile(delays, 0.50), 3),
        "delayP99Seconds": round(percentile(delays, 0.99), 3),
        "delayMaxSeconds": round(max(delays), 3),
        "delayMedianSeconds": round(median(delays), 3),
        "operatorCpuPercentMean": round(sum(cpu) / len(cpu), 1),
        "operatorCpuPercentMax": round(max(cpu), 1),
        "operatorRssPeakMiB": round(max((m for _, m in samples), default=0) / 2**20, 1),
        "v1ToCompletedSeconds": round(v1_seconds, 1),
        "v2ToCompletedSeconds": round(v2_seconds, 1),
        "standInRequestsDuringV2": recorder.requests - requests_before,
    }
    print(f"operator scale: {rollouts} rollouts, poll {poll:g} s, {len(PAUSES)} timed pauses each")
    for key, value in figures.items():
        print(f"  {key:28} {value}")
    print_json(figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=100)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--real", action="store_true", help="a real kube-apiserver, not the stand-in"
    )
    parser.add_argument("--idle-window", type=float, default=60.0)
    arguments = parser.parse_args()
    if arguments.real:
        from operator_scale_real import main as real_main

        asyncio.run(
            real_main(arguments.rollouts, arguments.poll, arguments.timeout, arguments.idle_window)
        )
    else:
        asyncio.run(main(arguments.rollouts, arguments.poll, arguments.timeout))
