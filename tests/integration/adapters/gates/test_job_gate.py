"""A gate that is a Kubernetes Job, on the real API server: the engine (in-memory workload and
router) runs a preRollout hook and a webhook step as Jobs through the job metric provider's code.
The test plays the Job controller (the server runs none): it ends each Job with a condition.

- Complete passes the gate and the rollout completes; Failed aborts it (onFailure abort);
- while the Job runs the gate is pending: one Job, no GateHeld event per poll, no traffic;
- a Job past `job.timeout` is deleted and fails the gate;
- the Job runs under the named ServiceAccount with the gate's body in SERINUS_GATE, and is
  deleted once read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from real_kube import RealKube
from strategy_world import make_rollout
from tests.integration.operator.test_job_analysis import JobController
from tests.integration.operator.world import until

from serinus.adapters.gates.http import HttpGateCaller
from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import JOBS
from serinus.adapters.metrics.job import JobProvider
from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.cluster_policy import cluster_refusals
from serinus.app.engine import Engine
from serinus.app.gates import GATE_ENV, GateRunner
from serinus.app.notifications import EnvSecretResolver
from serinus.core.events import Event, EventType
from serinus.core.gates import GatePhase
from serinus.core.spec import Rollout
from serinus.core.status import Phase, RolloutStatus

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("realkube-job-gate")]


def job(timeout: str = "2m") -> dict[str, Any]:
    return {
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"containers": [{"name": "smoke", "image": "smoke:1"}]}},
        },
        "serviceAccountName": "smoke-tests",
        "timeout": timeout,
    }


def rollout(timeout: str = "2m") -> Rollout:
    strategy = {
        "canary": {
            "steps": [{"webhook": {"name": "acceptance", "job": job(timeout)}}, {"setWeight": 50}],
            "hooks": [
                {
                    "name": "smoke",
                    "type": "preRollout",
                    "job": job(timeout),
                    "metadata": {"version": "{{canary.version}}"},
                }
            ],
            "scaleDownDelay": 0,
            "abortScaleDownDelay": 0,
        }
    }
    return make_rollout(strategy, "v1")


class Stand:
    def __init__(self, client: KubeClient, namespace: str, target: Rollout) -> None:
        self.store = MemoryStateStore()
        self.events: list[Event] = []
        self.rollout = target
        jobs = JobProvider(client, namespace, target.name)
        self.engine = Engine(
            self.store,
            MemoryRouter(),
            MemoryPlatform(MemoryWorld()),
            sinks=[self._collect],
            gates=GateRunner(HttpGateCaller(), EnvSecretResolver({}), jobs),
        )

    def _collect(self, _: str, events: Sequence[Event]) -> None:
        self.events.extend(events)

    def of(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.type is kind]

    async def start(self) -> None:
        await operations.submit(self.store, self.rollout)
        await self.until(lambda s: s.phase is Phase.COMPLETED, "v1 completed")
        await operations.submit(self.store, self.rollout.with_version("v2"))

    async def until(self, reached: Any, what: str, timeout: float = 60) -> RolloutStatus:
        async def check() -> RolloutStatus | None:
            result = await self.engine.reconcile(self.rollout.name)
            assert result.error is None, result.error
            return result.status if reached(result.status) else None

        found: RolloutStatus = await until(check, what, timeout)
        return found


@pytest.fixture
async def cluster(real_kube: RealKube) -> Any:
    namespace = real_kube.new_namespace("gate")
    async with real_kube.client() as client:
        yield client, namespace


async def test_job_gates_pass_when_their_jobs_complete(cluster: Any) -> None:
    client, namespace = cluster
    strategy = rollout().spec.strategy
    assert cluster_refusals(strategy, "spec.strategy") == []  # the way the cluster runs checks
    stand = Stand(client, namespace, rollout())
    await stand.start()
    async with JobController(client, "Complete", namespace).running() as controller:
        done = await stand.until(lambda s: s.phase is Phase.COMPLETED, "v2 completed")
    assert done.stable is not None and done.stable.version == "v2"
    passed = stand.of(EventType.GATE_PASSED)
    assert [(e.data["gateKind"], e.data["gate"]) for e in passed] == [
        ("preRollout", "preRollout/smoke"),
        ("step", "steps[0]"),
    ]
    assert all(e.message.endswith("job succeeded") for e in passed)
    assert len(controller.seen) == 2  # one Job per gate
    pod = controller.seen[0]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "smoke-tests"
    (env,) = [e for e in pod["containers"][0]["env"] if e["name"] == GATE_ENV]
    body = json.loads(env["value"])
    assert (body["hook"], body["canaryVersion"], body["metadata"]) == (
        "preRollout",
        "v2",
        {"version": "v2"},
    )
    assert (await client.list(JOBS, namespace)).items == []  # deleted once read


async def test_a_running_job_holds_the_gate_and_a_failed_one_aborts(cluster: Any) -> None:
    client, namespace = cluster
    stand = Stand(client, namespace, rollout())
    await stand.start()

    def waiting(status: RolloutStatus) -> bool:
        return bool(status.gates) and status.gates[0].description == "job running"

    held = await stand.until(waiting, "the preRollout Job running")
    for _ in range(5):  # polls of a running Job: the same call, nothing recorded
        held = (await stand.engine.reconcile("web")).status
    (gate,) = held.gates
    assert gate.phase is GatePhase.PENDING and gate.calls == 0
    assert held.phase is Phase.PROVISIONING and held.message.startswith("waiting for gate")
    assert not stand.of(EventType.GATE_HELD)
    assert len((await client.list(JOBS, namespace)).items) == 1

    async with JobController(client, "Failed", namespace).running():
        aborted = await stand.until(lambda s: s.phase is Phase.ABORTED, "v2 aborted")
    assert "gate preRollout smoke failed: job failed" in aborted.message
    (failed,) = stand.of(EventType.GATE_FAILED)
    assert failed.data["call"] == 1
    assert aborted.stable is not None and aborted.stable.version == "v1"


async def test_a_job_past_its_timeout_is_deleted_and_fails_the_gate(cluster: Any) -> None:
    client, namespace = cluster
    stand = Stand(client, namespace, rollout(timeout="1s"))
    await stand.start()
    # no Job controller runs: the Job never finishes
    aborted = await stand.until(lambda s: s.phase is Phase.ABORTED, "v2 aborted by the deadline")
    assert "did not finish within 1s; deleted" in aborted.message
    assert (await client.list(JOBS, namespace)).items == []
