"""abort_latency.py --operator: operation recorded in the Rollout -> VirtualService written.

A real kube-apiserver (tests/support/real_kube.py), one `serinus operator` process and one
Rollout (a Deployment per color, host-level Istio routing) with the steps setWeight 50 ->
pause {} (waits for promote). Each round applies a new version, waits until the VirtualService
gives green 50%, then records an abort in the Rollout's status the way the cluster-mode CLI does
(`operations.request` on the Kubernetes store). The clock starts when that status write returns
and stops when a watch on the VirtualService sees all traffic back on stable (a few
milliseconds after the write). The test-only Deployment controller plays Kubernetes' own.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from local_bench import median, percentile, print_json
from operator_scale import NAMESPACE, REPO, rollout, virtual_service
from operator_scale_real import Watched, follow, wait_until
from real_kube import ISTIO_CRDS, SERINUS_CRDS, RealKube
from tests.contract.platforms.kube_controller import DeploymentController

from serinus.adapters.kube.resources import VIRTUAL_SERVICES, ObjectRef
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.app import operations
from serinus.core.intents import IntentKind

NAME = "web"
STEPS: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {}}]


def green(watched: Watched) -> int | None:
    writes = watched.weight_writes.get(NAME)
    return writes[-1][1] if writes else None


async def main(aborts: int, timeout: float) -> None:
    watched = Watched()
    delays: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="serinus-abort-op-") as folder,
        RealKube.running(Path(folder) / "kube") as kube,
    ):
        kube.install_crds(SERINUS_CRDS, ISTIO_CRDS)
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        kubeconfig = kube.write_kubeconfig(
            Path(folder) / "admin.kc", kube.admin_token, namespace=NAMESPACE
        )
        async with kube.client(namespace=NAMESPACE) as admin:
            await admin.create(VIRTUAL_SERVICES, NAMESPACE, virtual_service(NAME))
            await admin.create(ROLLOUTS, NAMESPACE, rollout(NAME, "1"))
            stop = asyncio.Event()
            follower = asyncio.create_task(
                follow(admin, VIRTUAL_SERVICES, watched.virtual_service, stop)
            )
            rollouts = asyncio.create_task(follow(admin, ROLLOUTS, watched.rollout, stop))
            env = {**os.environ, "KUBECONFIG": str(kubeconfig), "SERINUS_STATE_DIR": folder}
            if os.environ.get("SERINUS_BENCH_OPERATOR_SRC"):
                env["PYTHONPATH"] = os.environ["SERINUS_BENCH_OPERATOR_SRC"]
            log = (Path(folder) / "operator.log").open("w")
            operator = subprocess.Popen(
                [sys.executable, "-m", "serinus.entrypoints.cli", "operator", "-n", NAMESPACE,
                 "--no-leader-election", "--no-api", "--metrics-port", "0", "--bind-address",
                 "127.0.0.1", "--log-level", "warning"],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
            store = KubernetesStateStore(admin, NAMESPACE, component="bench")
            ref = ObjectRef(ROLLOUTS, NAMESPACE, NAME)
            try:
                async with DeploymentController(admin, NAMESPACE, period=0.2).running():
                    await wait_until(lambda: watched.done([NAME], "1"), "v1 Completed", timeout)
                    for round_ in range(aborts):
                        version = str(round_ + 2)

                        def change(obj: dict[str, Any], version: str = version) -> dict[str, Any]:
                            obj["spec"]["version"] = version
                            obj["spec"]["strategy"]["blueGreenCanary"]["steps"] = STEPS
                            return obj

                        await admin.read_modify_write(ref, change)
                        await wait_until(lambda: green(watched) == 50, "green at 50%", timeout)
                        await operations.request(
                            store, NAME, IntentKind.ABORT, actor="bench", source="benchmark"
                        )
                        recorded = time.time()
                        await wait_until(
                            lambda: green(watched) in (0, 100), "abort written", timeout
                        )
                        written = watched.weight_writes[NAME][-1][0]
                        delays.append(written - recorded)
                        await wait_until(
                            lambda: watched.phases.get(NAME, ("", ""))[0] == "Aborted",
                            "Aborted",
                            timeout,
                        )
            finally:
                stop.set()
                follower.cancel()
                rollouts.cancel()
                await asyncio.gather(follower, rollouts, return_exceptions=True)
                operator.terminate()
                operator.wait(30)
                log.close()
    figures = {
        "aborts": len(delays),
        "recordedToVirtualServiceP50Ms": round(percentile(delays, 0.50) * 1000, 1),
        "recordedToVirtualServiceP99Ms": round(percentile(delays, 0.99) * 1000, 1),
        "recordedToVirtualServiceMaxMs": round(max(delays) * 1000, 1),
        "recordedToVirtualServiceMedianMs": round(median(delays) * 1000, 1),
        "recordedToVirtualServiceMs": [round(d * 1000) for d in sorted(delays)],
    }
    print(f"abort latency (operator, real API server): {len(delays)} aborts")
    for key, value in figures.items():
        print(f"  {key:34} {value}")
    print_json(figures)
