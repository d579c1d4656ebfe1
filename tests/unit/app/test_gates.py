"""Webhook gates through the real Engine (in-memory adapters) and a real local HTTP receiver."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gate_receiver import LEAK, Receiver, receiving
from strategy_world import make_rollout

from serinus.adapters.egress import EgressGuard
from serinus.adapters.gates.http import HttpGateCaller
from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.signing import DELIVERY_HEADER
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.app.gates import GateRunner
from serinus.app.notifications import EnvSecretResolver
from serinus.app.registry import AdapterContext, build_gates
from serinus.core.events import Event, EventType
from serinus.core.gates import GatePhase
from serinus.core.intents import IntentKind
from serinus.core.spec import Rollout
from serinus.core.status import Phase, RolloutStatus

KEY = "gate-key"


async def no_wait(_: float) -> None:
    return None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Stand:
    """One rollout driven by the real Engine; the gates' calls go to real HTTP."""

    def __init__(self, rollout: Rollout, key: str = KEY) -> None:
        self.rollout = rollout
        self.store = MemoryStateStore()
        self.world = MemoryWorld()
        self.clock = Clock()
        self.key = key
        self.events: list[Event] = []
        self.statuses: list[RolloutStatus] = []
        self.engine = self.new_engine()

    def new_engine(self) -> Engine:
        """A fresh engine on the same store and world: what a restart is."""
        runner = GateRunner(
            HttpGateCaller(sleep=no_wait), EnvSecretResolver({"GATE_KEY": self.key})
        )
        self.engine = Engine(
            self.store,
            MemoryRouter(),
            MemoryPlatform(self.world),
            clock=self.clock,
            sinks=[self._collect],
            gates=runner,
        )
        return self.engine

    def _collect(self, _: str, events: Sequence[Event]) -> None:
        self.events.extend(events)

    async def start(self) -> None:
        await operations.submit(self.store, self.rollout)
        assert (await self.run(5)).phase is Phase.COMPLETED
        await operations.submit(self.store, self.rollout.with_version("v2"))

    async def run(self, rounds: int = 40) -> RolloutStatus:
        status = RolloutStatus()
        for _ in range(rounds):
            result = await self.engine.reconcile("web")
            assert result.error is None, result.error
            status = result.status
            self.statuses.append(status)
            self.clock.now += 0.5
        return status

    def of(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.type is kind]


def hook(receiver: Receiver, kind: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "url": f"{receiver.url}/{name}",
        "timeout": "2s",
        "retries": 1,
        "interval": "1s",
        "secret": {"env": "GATE_KEY"},
        **extra,
    }


def canary(hooks: list[dict[str, Any]], steps: list[dict[str, Any]] | None = None) -> Rollout:
    strategy = {
        "canary": {
            "steps": steps if steps is not None else [{"setWeight": 50}],
            "hooks": hooks,
            "scaleDownDelay": 0,
            "abortScaleDownDelay": 0,
        }
    }
    return make_rollout(strategy, "v1")


def weight_of(status: RolloutStatus, version: str) -> int:
    for revision in (status.stable, status.canary):
        if revision is not None and revision.version == version:
            return status.weights.get(revision.color, 0)
    return 0


async def test_a_rollout_held_by_confirm_promotion_resumes_when_the_gate_opens() -> None:
    with receiving(answer=503, secret=KEY) as receiver:
        stand = Stand(canary([hook(receiver, "confirmPromotion", "approve")]))
        await stand.start()
        held = await stand.run(20)
        assert held.phase is Phase.PROGRESSING, held.message
        assert held.canary is not None and held.canary.version == "v2"
        assert weight_of(held, "v2") == 50  # held before promotion, at the last step's weight
        assert held.message.startswith("waiting for gate confirmPromotion approve: HTTP 503")
        (gate,) = held.gates
        assert gate.phase is GatePhase.PENDING and gate.calls >= 3
        assert len(stand.of(EventType.GATE_HELD)) == gate.calls
        assert all(r.signed for r in receiver.requests)
        # one delivery id for every call of the gate: receivers can drop duplicates
        assert len({r.headers[DELIVERY_HEADER] for r in receiver.requests}) == 1

        receiver.answer = 200
        done = await stand.run(20)
    assert done.phase is Phase.COMPLETED
    assert done.stable is not None and done.stable.version == "v2"
    assert len(stand.of(EventType.GATE_PASSED)) == 1
    document = receiver.requests[-1].document
    assert (document["hook"], document["canaryVersion"], document["stableVersion"]) == (
        "confirmPromotion",
        "v2",
        "v1",
    )


async def test_a_failing_pre_rollout_gate_aborts_before_any_traffic() -> None:
    with receiving(answer=500, secret=KEY) as receiver:
        stand = Stand(canary([hook(receiver, "preRollout", "smoke")]))
        await stand.start()
        status = await stand.run(20)
    assert status.phase is Phase.ABORTED
    assert "gate preRollout smoke failed: HTTP 500" in status.message
    assert status.stable is not None and status.stable.version == "v1"
    assert all(weight_of(s, "v2") == 0 for s in stand.statuses)
    assert len(receiver.requests) == 2  # one call: 1 + retries attempts, never repeated
    (failed,) = stand.of(EventType.GATE_FAILED)
    assert failed.data["statusCode"] == 500 and failed.data["attempts"] == 2


async def test_a_post_rollout_failure_does_not_block_completion() -> None:
    with receiving(answer=500, secret=KEY) as receiver:
        stand = Stand(canary([hook(receiver, "postRollout", "notify")]))
        await stand.start()
        status = await stand.run(20)
    assert status.phase is Phase.COMPLETED and status.terminal
    assert status.stable is not None and status.stable.version == "v2"
    assert len(receiver.calls("/notify")) == 2
    assert [g.phase for g in status.gates] == [GatePhase.FAILED]
    assert len(stand.of(EventType.GATE_FAILED)) == 1


async def test_confirm_traffic_increase_is_asked_before_each_increase_only() -> None:
    steps = [{"setWeight": 20}, {"setWeight": 60}, {"setWeight": 60}, {"setWeight": 0}]
    with receiving(secret=KEY) as receiver:
        stand = Stand(canary([hook(receiver, "confirmTrafficIncrease", "more")], steps))
        await stand.start()
        status = await stand.run(30)
    assert status.phase is Phase.COMPLETED
    assert [r.document["step"] for r in receiver.requests] == [0, 1]


async def test_a_held_traffic_increase_keeps_the_weight() -> None:
    steps = [{"setWeight": 20}, {"setWeight": 60}]
    with receiving(secret=KEY) as receiver:
        receiver.answers = {"/more": 200}
        stand = Stand(canary([hook(receiver, "confirmTrafficIncrease", "more")], steps))
        await stand.start()
        for _ in range(20):  # until the first increase was asked (and allowed)
            if receiver.calls("/more"):
                break
            await stand.run(1)
        receiver.answers = {"/more": 409}
        status = await stand.run(20)
    assert status.phase is Phase.PROGRESSING
    assert weight_of(status, "v2") == 20 and status.step_index == 1


async def test_a_webhook_step_with_a_bad_signature_aborts_and_sends_rendered_metadata() -> None:
    step = {
        "webhook": {
            "name": "acceptance",
            "url": "http://placeholder/",
            "retries": 0,
            "secret": {"env": "GATE_KEY"},
            "metadata": {"version": "{{canary.version}}", "suite": "smoke"},
        }
    }
    with receiving(secret=KEY) as receiver:
        step["webhook"]["url"] = receiver.url + "/acceptance"
        rollout = canary([], [{"setWeight": 10}, step, {"setWeight": 50}])
        stand = Stand(rollout, key="not-the-receivers-key")
        await stand.start()
        status = await stand.run(20)
    assert status.phase is Phase.ABORTED
    assert "gate step acceptance failed: HTTP 401" in status.message
    assert receiver.requests[0].document["metadata"] == {"version": "v2", "suite": "smoke"}


async def test_a_restart_never_repeats_a_passed_pre_rollout_call_and_keeps_a_hold() -> None:
    with receiving(secret=KEY) as receiver:
        receiver.answers = {"/smoke": 200, "/approve": 503}
        hooks = [
            hook(receiver, "preRollout", "smoke"),
            hook(receiver, "confirmPromotion", "approve"),
        ]
        stand = Stand(canary(hooks))
        await stand.start()
        await stand.run(10)
        assert len(receiver.calls("/smoke")) == 1
        stand.new_engine()  # a restart: only the store survives
        held = await stand.run(10)
        assert len(receiver.calls("/smoke")) == 1
        assert held.phase is Phase.PROGRESSING and weight_of(held, "v2") == 50
        receiver.answers["/approve"] = 200
        done = await stand.run(10)
    assert done.phase is Phase.COMPLETED
    assert len(receiver.calls("/smoke")) == 1


async def test_an_abort_calls_the_rollback_hook_and_nothing_the_receiver_says_is_kept() -> None:
    with receiving(answer=200, secret=KEY) as receiver:
        receiver.answers = {"/approve": 500}
        hooks = [
            hook(receiver, "confirmPromotion", "approve", onFailure="abort"),
            hook(receiver, "rollback", "page"),
        ]
        stand = Stand(canary(hooks))
        await stand.start()
        status = await stand.run(20)
    assert status.phase is Phase.ABORTED
    assert len(receiver.calls("/page")) == 1
    assert receiver.calls("/page")[0].document["hook"] == "rollback"
    history = await stand.store.history("web")
    assert LEAK not in status.model_dump_json()
    assert all(LEAK not in e.model_dump_json() for e in [*history, *stand.events])


async def test_an_abort_during_a_hold_stops_calling_the_gate_and_the_rollout_settles() -> None:
    with receiving(answer=503, secret=KEY) as receiver:
        stand = Stand(canary([hook(receiver, "confirmPromotion", "approve")]))
        await stand.start()
        await stand.run(10)
        assert receiver.calls("/approve")
        await operations.request(stand.store, "web", IntentKind.ABORT, actor="ana", source="test")
        await stand.run(2)
        calls = len(receiver.requests)
        status = await stand.run(20)
    assert status.phase is Phase.ABORTED and status.terminal
    assert len(receiver.requests) == calls
    assert [g.phase for g in status.gates] == [GatePhase.CANCELLED]


async def test_confirm_rollout_holds_before_traffic_then_pre_rollout_runs() -> None:
    with receiving(secret=KEY) as receiver:
        receiver.answers = {"/ticket": 403}
        hooks = [hook(receiver, "preRollout", "smoke"), hook(receiver, "confirmRollout", "ticket")]
        stand = Stand(canary(hooks))
        await stand.start()
        held = await stand.run(10)
        assert held.phase is Phase.PROVISIONING and weight_of(held, "v2") == 0
        assert not receiver.calls("/smoke")  # confirmRollout comes first
        receiver.answers["/ticket"] = 200
        done = await stand.run(20)
    assert done.phase is Phase.COMPLETED
    assert len(receiver.calls("/smoke")) == 1


async def test_confirm_rollout_holds_before_the_canary_is_provisioned() -> None:
    """Flagger's "before scaling up the canary": blueGreenCanary provisions green at full size,
    and not one replica of it runs while confirmRollout holds; the hold does not count against
    the progress deadline."""
    with receiving(answer=403, secret=KEY) as receiver:
        strategy = {
            "blueGreenCanary": {
                "steps": [{"setWeight": 50}],
                "hooks": [hook(receiver, "confirmRollout", "ticket")],
                "scaleDownDelay": 0,
            }
        }
        stand = Stand(make_rollout(strategy, "v1"))
        await stand.start()
        held = await stand.run(10)
        assert held.phase is Phase.PROVISIONING, held.message
        assert held.message.startswith("waiting for gate confirmRollout ticket: HTTP 403")
        assert held.canary is not None and held.replicas.get(held.canary.color, 0) == 0
        assert held.canary.color not in stand.world.colors  # nothing of v2 was started
        stand.clock.now += stand.rollout.spec.progress_deadline_seconds + 60  # a long hold
        assert (await stand.run(2)).phase is Phase.PROVISIONING
        assert held.canary.color not in stand.world.colors
        receiver.answer = 200
        done = await stand.run(20)
    assert done.phase is Phase.COMPLETED, done.message
    assert done.stable is not None and done.stable.version == "v2"


async def test_blue_green_waits_for_confirm_promotion() -> None:
    with receiving(answer=503, secret=KEY) as receiver:
        strategy = {
            "blueGreen": {
                "hooks": [hook(receiver, "confirmPromotion", "approve")],
                "scaleDownDelay": 0,
            }
        }
        stand = Stand(make_rollout(strategy, "v1"))
        await stand.start()
        held = await stand.run(10)
        assert held.canary is not None and weight_of(held, "v2") == 0
        receiver.answer = 200
        done = await stand.run(10)
    assert done.phase is Phase.COMPLETED
    assert done.stable is not None and done.stable.version == "v2"


async def test_a_missing_hmac_key_fails_the_call_without_sending_anything() -> None:
    with receiving(secret=KEY) as receiver:
        gate = hook(receiver, "preRollout", "smoke", secret={"env": "NOT_SET"})
        stand = Stand(canary([gate]))
        await stand.start()
        status = await stand.run(10)
    assert status.phase is Phase.ABORTED
    assert "the HMAC key cannot be read (env NOT_SET)" in status.message
    assert not receiver.requests


async def test_the_operators_gates_refuse_metadata_addresses(tmp_path: Path) -> None:
    gate = {"name": "smoke", "type": "preRollout", "url": "http://169.254.169.254/", "retries": 0}
    rollout = canary([gate])
    context = AdapterContext(rollout=rollout, state_dir=tmp_path, egress=EgressGuard())
    stand = Stand(rollout)
    stand.engine.gates = build_gates(context)
    await stand.start()
    status = await stand.run(10)
    assert status.phase is Phase.ABORTED
    assert "refused by the egress guard" in status.message


async def test_a_job_gate_without_a_cluster_fails_and_nothing_is_called() -> None:
    job = {
        "spec": {"template": {"spec": {"containers": [{"name": "smoke", "image": "smoke:1"}]}}},
        "serviceAccountName": "smoke-tests",
    }
    stand = Stand(canary([{"name": "smoke", "type": "preRollout", "job": job}]))
    await stand.start()
    status = await stand.run(10)
    assert status.phase is Phase.ABORTED
    assert "gate preRollout smoke failed: a job gate needs a Kubernetes cluster" in status.message
    (failed,) = stand.of(EventType.GATE_FAILED)
    assert failed.data["attempts"] == 0
