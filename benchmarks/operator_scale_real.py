"""operator_scale.py --real: the operator scale scenario against a real kube-apiserver.

See operator_scale.py for the scenario and the figures. Here the server is real
(tests/support/real_kube.py), the test-only Deployment controller creates real Pod objects and
writes Deployment status (reading through a watch cache, as kube-controller-manager does), and
the operator's requests are counted from the server's audit log (the operator authenticates as
its own ServiceAccount). Idle is counted once the operator has gone quiet after v1; reconciles
come from its metrics. Then the operator stops and operator_floor.py measures the API server's
floor on the same objects: the least any operator would have to write for N pause ends.
SERINUS_BENCH_OPERATOR_SRC=<src folder> runs the operator from another checkout (`git worktree
add`), for before/after figures;
SERINUS_BENCH_OPERATOR_PREFIX="py-spy record -f raw -o /tmp/op.txt --" runs it under a profiler.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import operator_floor
import psutil
from local_bench import percentile, print_json
from operator_scale import NAMESPACE, PAUSE_SECONDS, PAUSES, REPO, rollout, sample, virtual_service
from real_kube import ISTIO_CRDS, SERINUS_CRDS, RealKube, free_port
from tests.contract.platforms.kube_controller import DeploymentController

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import DEPLOYMENTS, PODS, VIRTUAL_SERVICES, ObjectRef
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.core.status import RolloutStatus

ACCOUNT = "operator"
OPERATOR_USER = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
FLOOR_CONCURRENCY = 32  # the operator's reconcile concurrency (DriverSettings)


class Watched:
    """Pause starts and weight writes, seen through watches (the server's own order)."""

    def __init__(self) -> None:
        self.weight_writes: dict[str, list[tuple[float, int]]] = {}
        self.pause_starts: dict[tuple[str, int], float] = {}
        self.phases: dict[str, tuple[str, str]] = {}  # name -> (phase, stable version)

    def virtual_service(self, obj: dict[str, Any]) -> None:
        route = obj["spec"]["http"][0]["route"]
        green = sum(int(d.get("weight", 0)) for d in route if "green" in d["destination"]["host"])
        writes = self.weight_writes.setdefault(obj["metadata"]["name"], [])
        if not writes or writes[-1][1] != green:
            writes.append((time.time(), green))

    def rollout(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        self.phases[name] = (str(status.get("phase") or "-"), str(status.get("stableVersion")))
        stored = status.get("serinus")
        if stored is None:
            return
        parsed = RolloutStatus.from_storage(stored)
        if parsed.step_index in PAUSES and parsed.step_started_at is not None:
            self.pause_starts.setdefault((name, parsed.step_index), parsed.step_started_at)

    def delays(self) -> list[float]:
        found = []
        for (name, step), started in self.pause_starts.items():
            writes = [at for at, green in self.weight_writes.get(name, []) if green == PAUSES[step]]
            if writes:
                found.append(min(writes) - (started + PAUSE_SECONDS))
        return found

    def done(self, names: list[str], version: str) -> bool:
        return all(self.phases.get(n) == ("Completed", version) for n in names)


async def follow(client: KubeClient, resource: Any, seen: Any, stop: asyncio.Event) -> None:
    version = (await client.list(resource, NAMESPACE)).resource_version
    while not stop.is_set():
        async for event in client.watch(resource, NAMESPACE, resource_version=version):
            if event.type == "ERROR":
                version = (await client.list(resource, NAMESPACE)).resource_version
                break
            version = event.object["metadata"]["resourceVersion"]
            if event.type in ("ADDED", "MODIFIED"):
                seen(event.object)


async def wait_until(check: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {what}")
        await asyncio.sleep(0.2)


def requests_of(kube: RealKube) -> list[Any]:
    return [e for e in kube.audit_events(OPERATOR_USER) if e.verb != "watch"]


def reconciles(port: int) -> float:
    """How many reconciles the operator has run (its Prometheus metrics)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("serinus_reconcile_duration_seconds_count")
    )


async def until_quiet(kube: RealKube, timeout: float, window: float = 5.0) -> list[Any]:
    """Wait until the operator made no request for `window` seconds; returns what it made."""
    first = len(requests_of(kube))
    seen = first
    deadline = time.monotonic() + timeout
    while True:
        await asyncio.sleep(window)  # a window the count must stay still over
        now = requests_of(kube)
        if len(now) == seen:
            return now[first:]
        seen = len(now)
        if time.monotonic() > deadline:
            raise SystemExit("timed out: the operator never went quiet after v1")


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) each process has used so far."""
    used = {}
    for name, pid in pids.items():
        times = psutil.Process(pid).cpu_times()
        used[name] = times.user + times.system
    return used


def server_seconds(events: list[Any]) -> dict[str, str]:
    """The API server's own time per request (audit log: received -> response), p50 / p99 ms."""
    by_verb: dict[str, list[float]] = collections.defaultdict(list)
    for event in events:
        if event.seconds is not None:
            by_verb[event.verb].append(event.seconds)
    return {
        verb: f"{percentile(times, 0.5) * 1000:.0f} / {percentile(times, 0.99) * 1000:.0f} ms"
        for verb, times in sorted(by_verb.items())
    }


def breakdown(events: list[Any]) -> dict[str, int]:
    counts = collections.Counter(
        f"{e.verb} {e.resource}{'/' + e.subresource if e.subresource else ''}" for e in events
    )
    return dict(counts.most_common())


async def main(rollouts: int, poll: float, timeout: float, idle_window: float) -> None:
    names = [f"r{i:04d}" for i in range(rollouts)]
    watched = Watched()
    with (
        tempfile.TemporaryDirectory(prefix="serinus-scale-real-") as folder,
        RealKube.running(Path(folder) / "kube") as kube,
    ):
        kube.install_crds(SERINUS_CRDS, ISTIO_CRDS)
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        token = kube.service_account_token(NAMESPACE, ACCOUNT)
        kube.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "bench-operator"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}],
            }
        )
        kubeconfig = kube.write_kubeconfig(Path(folder) / "op.kc", token, namespace=NAMESPACE)
        figures = await run(kube, kubeconfig, names, watched, poll, timeout, idle_window, folder)
    print(f"operator scale (real API server): {rollouts} rollouts, poll {poll:g} s")
    for key, value in figures.items():
        print(f"  {key:34} {value}")
    print_json(figures)


async def run(
    kube: RealKube,
    kubeconfig: Path,
    names: list[str],
    watched: Watched,
    poll: float,
    timeout: float,
    idle_window: float,
    folder: str,
) -> dict[str, Any]:
    n = len(names)
    async with kube.client(namespace=NAMESPACE) as admin:
        for name in names:
            await admin.create(VIRTUAL_SERVICES, NAMESPACE, virtual_service(name))
            await admin.create(ROLLOUTS, NAMESPACE, rollout(name, "1"))
        stop = asyncio.Event()
        followers = [
            asyncio.create_task(follow(admin, VIRTUAL_SERVICES, watched.virtual_service, stop)),
            asyncio.create_task(follow(admin, ROLLOUTS, watched.rollout, stop)),
        ]
        log = (Path(folder) / "operator.log").open("w")
        metrics_port = free_port()
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "SERINUS_STATE_DIR": folder}
        if os.environ.get("SERINUS_BENCH_OPERATOR_SRC"):  # e.g. a worktree of the version before
            env["PYTHONPATH"] = os.environ["SERINUS_BENCH_OPERATOR_SRC"]
        prefix = shlex.split(os.environ.get("SERINUS_BENCH_OPERATOR_PREFIX", ""))
        operator = subprocess.Popen(
            [*prefix, sys.executable, "-m", "serinus.entrypoints.cli", "operator", "-n", NAMESPACE,
             "--no-leader-election", "--no-api", "--metrics-port", str(metrics_port),
             "--bind-address", "127.0.0.1", "--poll-seconds", str(poll), "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        try:
            # The controller reads through a watch cache, as kube-controller-manager's
            # informers do: listing thousands of Deployments and pods every second loaded the
            # API server and this process more than the operator did (N = 2,000).
            workloads = kube.client(namespace=NAMESPACE)
            workloads.enable_cache([DEPLOYMENTS, PODS])
            controller = DeploymentController(workloads, NAMESPACE, period=1.0)
            async with workloads, controller.running():
                started = time.monotonic()
                await wait_until(lambda: watched.done(names, "1"), "v1 Completed", timeout)
                v1_seconds = time.monotonic() - started
                # Idle: every Rollout Completed; count the operator's requests over a window.
                # Idle once the operator has caught up (Events written in the background may
                # still be on their way): then count over the window.
                quiet_started = time.monotonic()
                settling = await until_quiet(kube, timeout)
                settle_seconds = time.monotonic() - quiet_started
                settled = len(requests_of(kube))
                await asyncio.sleep(idle_window)  # a measurement window, not a wait for a state
                idle = requests_of(kube)[settled:]
                idle_count = len(idle)
                samples: list[tuple[float, int]] = []
                sampling_stop = asyncio.Event()
                sampling = asyncio.create_task(
                    sample(psutil.Process(operator.pid), samples, sampling_stop)
                )
                before = len(requests_of(kube))
                pids = {**kube.pids, "operator": operator.pid, "benchmark": os.getpid()}
                cpu_before = cpu_seconds(pids)
                reconciles_before = reconciles(metrics_port)
                started = time.monotonic()
                for name in names:
                    await admin.read_modify_write(
                        ObjectRef(ROLLOUTS, NAMESPACE, name), _new_version("2")
                    )
                await wait_until(lambda: watched.done(names, "2"), "v2 Completed", timeout)
                v2_seconds = time.monotonic() - started
                cpu = {k: round(v - cpu_before[k], 1) for k, v in cpu_seconds(pids).items()}
                v2_reconciles = reconciles(metrics_port) - reconciles_before
                sampling_stop.set()
                await sampling
                progressing = requests_of(kube)[before:]
        finally:
            stop.set()
            for task in followers:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*followers, return_exceptions=True)
            # SIGINT: a profiler given as the prefix writes its output on it (the operator
            # stops on either signal).
            operator.send_signal(signal.SIGINT if prefix else signal.SIGTERM)
            try:
                operator.wait(30)
            except subprocess.TimeoutExpired:
                operator.kill()
                operator.wait()
            log.close()
        # The operator has stopped: the same server and objects, written by a bare client.
        floor = await operator_floor.measure(admin, NAMESPACE, names, kube.pids, FLOOR_CONCURRENCY)
    delays = watched.delays()
    if not delays:
        raise SystemExit("no pause-to-weight delay measured")
    percents = [c for c, _ in samples] or [0.0]
    return {
        "rollouts": n,
        "pollSeconds": poll,
        "pausesMeasured": len(delays),
        "pausesExpected": n * len(PAUSES),
        "delayP50Seconds": round(percentile(delays, 0.50), 3),
        "delayP99Seconds": round(percentile(delays, 0.99), 3),
        "delayMaxSeconds": round(max(delays), 3),
        "operatorCpuPercentMean": round(sum(percents) / len(percents), 1),
        "operatorRssPeakMiB": round(max((m for _, m in samples), default=0) / 2**20, 1),
        "v1ToCompletedSeconds": round(v1_seconds, 1),
        "v2ToCompletedSeconds": round(v2_seconds, 1),
        "reconcilesPerRolloutV2": round(v2_reconciles / n, 1),
        "v1SettleSeconds": round(settle_seconds, 1),
        "v1SettleRequests": breakdown(settling),
        "idleRequestsPerRolloutMinute": round(idle_count / n / (idle_window / 60), 3),
        "progressingRequestsPerRolloutMinute": round(len(progressing) / n / (v2_seconds / 60), 1),
        "idleRequests": breakdown(idle),
        "progressingRequests": breakdown(progressing),
        "progressingServerMsP50P99": server_seconds(progressing),
        # Which process used the machine while v2 rolled out (benchmark: the test's Deployment
        # controller and the watches measuring the delays).
        "progressingCpuSeconds": cpu,
        "serverFloor": floor,
    }


def _new_version(version: str) -> Any:
    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        obj["spec"]["version"] = version
        return obj

    return mutate
