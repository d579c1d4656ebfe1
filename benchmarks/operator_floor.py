"""The API server's floor for N pause ends: the least a perfect operator would have to write.

Run by operator_scale.py --real after the operator has stopped, on the same server and the same
objects (the Rollouts as v2 left them, history included). For each Rollout, a pause end costs
the operator at least the VirtualService write carrying the next weight and the Rollout's
status write recording the next step; here a bare client (serinus's own KubeClient, over the
same TLS stack) makes exactly those writes for all N Rollouts at once, `concurrency` in flight
(the operator's reconcile concurrency), with no reads in the timed part (the objects were listed
before, as an informer holds them). A third round adds the Kubernetes Event a save writes.

Each write's completion time, counted from the common start, is the delay that Rollout's weight
write would have had if every pause had ended at that start: p50/p99 of those are the floor under
the operator's delays in a burst, whatever the operator does. `serverBoundSeconds` is the API
server's and etcd's CPU time for the round divided by the machine's cores: the least wall time
those writes could take even with a client that costs nothing.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import psutil
from local_bench import percentile

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import EVENTS, VIRTUAL_SERVICES, ObjectRef
from serinus.adapters.stores.rollout_resource import ROLLOUTS

Object = dict[str, Any]


def _weighted(vs: Object, green: int) -> Object:
    route = vs["spec"]["http"][0]["route"]
    for destination in route:
        host = destination["destination"]["host"]
        destination["weight"] = green if "green" in host else 100 - green
    return vs


def _event(rollout: Object, namespace: str) -> Object:
    metadata = rollout["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{metadata['name']}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": ROLLOUTS.api_version,
            "kind": ROLLOUTS.kind,
            "name": metadata["name"],
            "namespace": namespace,
            "uid": metadata.get("uid"),
        },
        "reason": "StepStarted",
        "message": "floor benchmark",
        "type": "Normal",
        "count": 1,
        "source": {"component": "bench-floor"},
    }


async def _round(
    client: KubeClient,
    namespace: str,
    services: dict[str, Object],
    rollouts: dict[str, Object],
    green: int,
    concurrency: int,
    with_event: bool,
) -> list[float]:
    gate = asyncio.Semaphore(concurrency)
    started = time.monotonic()
    done: list[float] = []

    async def one(name: str) -> None:
        async with gate:
            vs = _weighted(services[name], green)
            services[name] = await client.replace(ObjectRef(VIRTUAL_SERVICES, namespace, name), vs)
            done.append(time.monotonic() - started)  # the weight is written: the measured point
            rollout = rollouts[name]
            rollout.setdefault("status", {})["floorRound"] = green
            rollouts[name] = await client.replace(
                ObjectRef(ROLLOUTS, namespace, name), rollout, "status"
            )
            if with_event:
                await client.create(EVENTS, namespace, _event(rollout, namespace))

    await asyncio.gather(*(one(name) for name in services))
    return done


async def measure(
    client: KubeClient, namespace: str, names: list[str], pids: dict[str, int], concurrency: int
) -> dict[str, Any]:
    """Floor figures: weight-write completion p50/p99/max and the wall time of each round."""
    wanted = set(names)
    services = {
        o["metadata"]["name"]: o
        for o in (await client.list(VIRTUAL_SERVICES, namespace, cached=False)).items
        if o["metadata"]["name"] in wanted
    }
    rollouts = {
        o["metadata"]["name"]: o
        for o in (await client.list(ROLLOUTS, namespace, cached=False)).items
        if o["metadata"]["name"] in wanted
    }
    sizes = sorted(len(str(o)) for o in rollouts.values())
    figures: dict[str, Any] = {"rolloutBytesP50": sizes[len(sizes) // 2]}
    for label, green, with_event in (("twoWrites", 10, False), ("threeWrites", 20, True)):
        processes = {k: psutil.Process(v) for k, v in pids.items() if psutil.pid_exists(v)}
        before = {k: sum(p.cpu_times()[:2]) for k, p in processes.items()}
        started = time.monotonic()
        done = await _round(client, namespace, services, rollouts, green, concurrency, with_event)
        wall = time.monotonic() - started
        cpu = {k: round(sum(p.cpu_times()[:2]) - before[k], 1) for k, p in processes.items()}
        writes = len(names) * (3 if with_event else 2)
        server_cpu = cpu.get("kube-apiserver", 0.0) + cpu.get("etcd", 0.0)
        figures[label] = {
            "weightWrittenP50Seconds": round(percentile(done, 0.5), 3),
            "weightWrittenP99Seconds": round(percentile(done, 0.99), 3),
            "wallSeconds": round(wall, 2),
            "cpuSeconds": cpu,
            "serverCpuMsPerWrite": round(1000 * server_cpu / writes, 2),
            # Even with a client that costs nothing and the server alone on every core: the
            # least wall time these writes take.
            "serverBoundSeconds": round(server_cpu / (os.cpu_count() or 1), 2),
        }
    figures["concurrency"] = concurrency
    figures["loadAverage"] = round(os.getloadavg()[0], 1)
    return figures
