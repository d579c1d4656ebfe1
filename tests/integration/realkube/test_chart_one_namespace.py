"""The chart in its one-namespace mode on the real API server: start-up, RBAC, leader election.

The operator's rights end at the watched namespace (a Role there, the Lease's Role in the
release namespace, nothing cluster-wide). With those rights alone:
- it serves a Rollout that exists before it starts at once: no refused request, no attempt to
  list Namespaces or CRDs (kopf used to, and retried for about a minute);
- two replicas share the chart's ServiceAccount, each with a token bound to its own Pod, so the
  API server's audit log names the replica behind every request. The Lease elects one; SIGKILL of
  it hands over to the other; no write of one replica falls between the first and last write of
  the other, and green is not provisioned twice.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from real_kube import ISTIO_CRDS, AuditEvent, RealKube
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.operator.world import OperatorProcess, serinus, until
from tests.integration.realkube.chart import (
    ChartRbac,
    deploy_chart_rbac,
    helm_binary,
    operator_kubeconfig,
)
from tests.integration.realkube.grants import granted, used
from tests.integration.realkube.pipeline import NAME, rollout_document, seed_objects

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import DEPLOYMENTS, LEASES, ObjectRef
from serinus.adapters.stores.rollout_resource import ROLLOUTS

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("realkube-one-namespace")]

POD_NAME = "authentication.kubernetes.io/pod-name"
LEASE = "serinus-operator"
LEASE_SECONDS = 3.0
WRITES = ("create", "update", "patch", "delete")


@dataclass(frozen=True)
class Install:
    kube: RealKube
    rbac: ChartRbac
    watched: str  # the namespace the operator watches
    folder: Path

    def replica(self, pod: str) -> OperatorProcess:
        kubeconfig = operator_kubeconfig(self.kube, self.rbac, pod, self.folder / f"{pod}.kc")
        return OperatorProcess(
            kubeconfig,
            self.folder / pod,
            "--lease-namespace",
            self.rbac.namespace,
            "--lease-duration",
            str(LEASE_SECONDS),
            "--identity",
            pod,
            watch=("--namespace", self.watched),
            env={"SERINUS_HELM": helm_binary()},
        )

    def requests(self, pod: str | None = None) -> list[AuditEvent]:
        events = self.kube.audit_events(self.rbac.user)
        return [e for e in events if pod is None or e.extra.get(POD_NAME) == (pod,)]


@pytest.fixture(scope="module")
def install(real_kube: RealKube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    folder = tmp_path_factory.mktemp("chart-one")
    real_kube.install_crds(ISTIO_CRDS)
    release = real_kube.new_namespace("serinus-system")
    watched = real_kube.new_namespace("shop")
    rbac = deploy_chart_rbac(
        real_kube, "serinus", release, folder / "helm", f"watchNamespace={watched}"
    )
    assert not rbac.rules("ClusterRole"), "nothing cluster-wide in the one-namespace mode"
    yield Install(real_kube, rbac, watched, folder)


async def phase_of(client: KubeClient, namespace: str, version: str) -> str:
    rollout = await client.get_or_none(ObjectRef(ROLLOUTS, namespace, NAME))
    if rollout is None:
        return ""
    same = rollout["spec"]["version"] == version
    return str((rollout.get("status") or {}).get("phase", "")) if same else ""


async def apply_version(client: KubeClient, namespace: str, version: str) -> None:
    document = rollout_document("deployment", "istio-host", version, namespace)
    ref = ObjectRef(ROLLOUTS, namespace, NAME)
    if await client.get_or_none(ref) is None:
        await client.create(ROLLOUTS, namespace, document)
    else:
        await client.read_modify_write(ref, lambda c: {**c, "spec": document["spec"]})


async def completed_at(install: Install, client: KubeClient, version: str, log: Path) -> None:
    """The Rollout Completed at `version`, rolling it out first when the test runs alone."""
    if await phase_of(client, install.watched, version) == "Completed":
        return
    for obj in seed_objects("deployment", "istio-host", install.watched):
        install.kube.apply(obj)
    await apply_version(client, install.watched, version)

    async def completed() -> bool:
        return await phase_of(client, install.watched, version) == "Completed"

    await until(completed, f"{version} completed", 120, log)


def test_a_waiting_rollout_is_served_at_start_with_the_namespaced_rights_only(
    install: Install,
) -> None:
    kube, watched = install.kube, install.watched

    async def scenario() -> tuple[float, float]:
        for obj in seed_objects("deployment", "istio-host", watched):
            kube.apply(obj)
        async with kube.client() as client:
            await apply_version(client, watched, "1.0.0")  # before the operator starts
            replica = install.replica("serinus-starting")
            spawned = time.monotonic()
            await replica.start()
            try:
                async with DeploymentController(client, watched, period=0.25).running():

                    async def handled() -> bool:
                        return await phase_of(client, watched, "1.0.0") != ""

                    await until(handled, "the first status write", 60, replica.log)
                    to_first_write = time.monotonic() - spawned

                    async def completed() -> bool:
                        return await phase_of(client, watched, "1.0.0") == "Completed"

                    await until(completed, "v1 completed", 60, replica.log)
            finally:
                await replica.stop()
        requests = install.requests("serinus-starting")
        first = _seconds(requests[0].received)
        status = next(e for e in requests if e.subresource == "status" and e.verb == "update")
        return to_first_write, _seconds(status.received) - first

    from_spawn, from_first_request = asyncio.run(scenario())
    print(
        f"\nfirst status write: {from_spawn:.2f} s after the process started, "
        f"{from_first_request:.2f} s after its first request to the server"
    )
    requests = install.requests("serinus-starting")
    assert not [e for e in requests if e.code in (401, 403)], "no request was refused"
    assert not [e for e in requests if e.resource in ("namespaces", "customresourcedefinitions")]
    grants = granted(install.rbac.rules("Role"))
    assert used(requests) - grants == set(), "used but not granted"


def test_two_replicas_one_writer_and_a_handover_after_sigkill(install: Install) -> None:
    kube, watched = install.kube, install.watched
    lease = ObjectRef(LEASES, install.rbac.namespace, LEASE)

    async def scenario() -> dict[str, float | str]:
        async with kube.client() as client:
            green_before: dict[str, str] = {}
            replicas = {pod: install.replica(pod) for pod in ("serinus-0", "serinus-1")}
            for replica in replicas.values():
                await replica.start()
            try:
                async with DeploymentController(client, watched, period=0.25).running():
                    await completed_at(install, client, "1.0.0", replicas["serinus-0"].log)
                    await apply_version(client, watched, "2.0.0")

                    async def at_gate() -> bool:
                        return await phase_of(client, watched, "2.0.0") == "AwaitingJudgement"

                    await until(
                        at_gate, "v2 at the gate", 90, install.folder / "serinus-0/operator.log"
                    )
                    holder = (await client.get(lease))["spec"]["holderIdentity"]
                    green = await client.get(ObjectRef(DEPLOYMENTS, watched, f"{NAME}-green"))
                    green_before = {"uid": green["metadata"]["uid"]}
                    replicas[holder].kill()
                    killed = time.monotonic()
                    other = next(pod for pod in replicas if pod != holder)

                    async def handed_over() -> bool:
                        spec = (await client.get(lease))["spec"]
                        return bool(spec.get("holderIdentity") == other)

                    await until(handed_over, "the Lease handed over", 30, replicas[other].log)
                    handover = time.monotonic() - killed
                    code, output = await serinus(
                        "judge", NAME, "--approve", "-n", watched, kubeconfig=kube.admin_kubeconfig
                    )
                    assert code == 0, output

                    async def completed() -> bool:
                        return await phase_of(client, watched, "2.0.0") == "Completed"

                    await until(
                        completed, "v2 completed by the new leader", 90, replicas[other].log
                    )
                    green = await client.get(ObjectRef(DEPLOYMENTS, watched, f"{NAME}-green"))
            finally:
                for replica in replicas.values():
                    await replica.stop()
        return {
            "holder": holder,
            "other": other,
            "handover": handover,
            "green_kept": str(green["metadata"]["uid"] == green_before["uid"]),
        }

    outcome = asyncio.run(scenario())
    print(
        f"\nLease handed over {outcome['handover']:.2f} s after SIGKILL "
        f"(lease duration {LEASE_SECONDS} s)"
    )
    assert outcome["green_kept"] == "True", "green was not provisioned again"
    holder, other = str(outcome["holder"]), str(outcome["other"])
    writes = [
        e
        for e in install.requests()
        if e.verb in WRITES
        and e.resource != "leases"
        and e.extra.get(POD_NAME, ("",))[0] in (holder, other)
    ]
    writes.sort(key=lambda e: e.received)
    writers = [e.extra[POD_NAME][0] for e in writes]
    assert holder in writers and other in writers, writers
    # One writer at a time: every write of the killed leader comes before any of its successor.
    last_of_holder = max(i for i, w in enumerate(writers) if w == holder)
    first_of_other = writers.index(other)
    assert last_of_holder < first_of_other, writers
    standby_leases = [
        e for e in install.requests(other) if e.resource == "leases" and e.verb in WRITES
    ]
    assert standby_leases, "the standby took the Lease over through the server"


def _seconds(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def test_sigkill_of_the_leader_at_random_moments_provisions_nothing_twice(
    install: Install,
) -> None:
    kube, watched = install.kube, install.watched
    lease = ObjectRef(LEASES, install.rbac.namespace, LEASE)
    seed = random.randrange(1_000_000)
    chaos = random.Random(seed)
    start = len(install.requests())

    async def scenario() -> list[str]:
        killed: list[str] = []
        async with kube.client() as client:
            replicas = {pod: install.replica(pod) for pod in ("chaos-0", "chaos-1")}
            for replica in replicas.values():
                await replica.start()
            log = install.folder / "chaos-0" / "operator.log"
            try:
                async with DeploymentController(client, watched, period=0.25).running():
                    await completed_at(install, client, "2.0.0", log)
                    await apply_version(client, watched, "3.0.0")
                    for number in range(3):

                        async def leader() -> str | None:
                            spec = (await client.get_or_none(lease) or {}).get("spec") or {}
                            holder = spec.get("holderIdentity")
                            alive = holder in replicas and replicas[holder].process is not None
                            return str(holder) if alive and holder not in killed else None

                        holder = await until(leader, "a live leader", 60, log)
                        await asyncio.sleep(chaos.uniform(0.0, 2.5))  # a random moment of its reign
                        replicas[holder].kill()
                        killed.append(holder)
                        fresh = f"chaos-{number + 2}"
                        replicas[fresh] = install.replica(fresh)
                        await replicas[fresh].start()

                    async def gate() -> bool:
                        return await phase_of(client, watched, "3.0.0") == "AwaitingJudgement"

                    await until(gate, "3.0.0 at the gate", 120, log)
                    code, output = await serinus(
                        "judge", NAME, "--approve", "-n", watched, kubeconfig=kube.admin_kubeconfig
                    )
                    assert code == 0, output

                    async def done() -> bool:
                        return await phase_of(client, watched, "3.0.0") == "Completed"

                    await until(done, "3.0.0 completed", 120, log)
            finally:
                for replica in replicas.values():
                    await replica.stop()
        return killed

    killed = asyncio.run(scenario())
    print(f"\nseed {seed}: killed {killed}")
    assert len(killed) == 3
    writes = sorted(
        (
            e
            for e in install.requests()[start:]
            if e.verb in WRITES and e.resource != "leases" and POD_NAME in e.extra
        ),
        key=lambda e: e.received,
    )
    # One writer at a time: once a replica's successor has written, it never writes again.
    order = [pod for pod, _ in itertools.groupby(e.extra[POD_NAME][0] for e in writes)]
    assert len(order) == len(set(order)), order
    created = collections.Counter(
        (e.resource, e.name) for e in writes if e.verb == "create" and e.code == 201
    )
    assert [key for key, count in created.items() if count > 1 and key[0] != "events"] == []
