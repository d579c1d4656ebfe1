"""`serinus plan`: every write a rollout will make, found by running the real engine on a copy.

The plan is not a second description of the strategies: it drives the real `Engine` (and so the
real `decide()`) against in-memory adapters seeded from the rollout's current status, with a
simulated clock, and records the actions of every reconcile. Replicas become ready as soon as
they are provisioned and timed waits elapse at once; every gate is assumed passed, through the
same operations a person would use (untimed pauses promoted, judgements approved), webhook gates
answer 2xx, job gates succeed and analysis steps succeed. Each such assumption is recorded in
the plan. Nothing outside the copy is read after seeding or written at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.engine import Engine, Reconciled
from serinus.app.gates import GateRunner
from serinus.core.actions import Action
from serinus.core.analysis.run import AnalysisPhase, AnalysisRunState
from serinus.core.analysis.spec import JobSource
from serinus.core.errors import SerinusError
from serinus.core.gates import GateCall
from serinus.core.intents import IntentKind
from serinus.core.notification_spec import SecretRef
from serinus.core.spec import Judgement, Rollout
from serinus.core.status import COLORS, Color, Phase, RolloutStatus
from serinus.core.strategy.analysis_step import run_name
from serinus.core.strategy.plan import plan_for

# A rollout of MAX_STEPS steps takes a few reconciles per step; past this the plan gives up.
MAX_RECONCILES = 2_000
PLAN_ACTOR = "serinus plan"


@dataclass(frozen=True)
class PlannedAction:
    kind: str  # the action's class name: EnsureVersion, SetWeights, ...
    fields: dict[str, Any]
    # The action itself, to perform it again against a cluster with dry-run (plan_cluster.py).
    action: Action | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, action: Action) -> PlannedAction:
        return cls(type(action).__name__, action.model_dump(mode="json"), action)

    def to_data(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.fields}


@dataclass(frozen=True)
class PlanEntry:
    """One reconcile that wrote something, or one assumption or wait the plan made.

    A reconcile may pass several steps (a header route, then a weight): `from_step` is the step
    it started at, `step_index` the one it ended at.
    """

    from_step: int
    step_index: int
    phase: Phase
    message: str
    at: float  # seconds after the plan's start
    actions: tuple[PlannedAction, ...] = ()
    assumed: str | None = None  # a gate the plan passed
    waited: float | None = None  # seconds of a timed wait that elapsed

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "fromStep": self.from_step,
            "stepIndex": self.step_index,
            "phase": self.phase.value,
            "message": self.message,
            "at": round(self.at, 3),
            "actions": [action.to_data() for action in self.actions],
        }
        if self.assumed is not None:
            data["assumed"] = self.assumed
        if self.waited is not None:
            data["waited"] = round(self.waited, 3)
        return data


@dataclass
class Plan:
    rollout: Rollout
    start: RolloutStatus | None
    entries: list[PlanEntry] = field(default_factory=list)
    final: RolloutStatus | None = None
    stopped: str | None = None  # why the simulation ended before a terminal state

    def actions(self) -> list[PlannedAction]:
        """Every write, in order (what a run with the same gate outcomes performs)."""
        return [action for entry in self.entries for action in entry.actions]

    def to_data(self) -> dict[str, Any]:
        final = self.final
        return {
            "rollout": self.rollout.name,
            "version": self.rollout.spec.version,
            "strategy": plan_for(self.rollout.spec).strategy,
            "from": None if self.start is None else _summary(self.start),
            "assumptions": ASSUMPTIONS,
            "entries": [entry.to_data() for entry in self.entries],
            "final": None if final is None else _summary(final),
            "stopped": self.stopped,
        }


ASSUMPTIONS = [
    "replicas become ready as soon as they are provisioned",
    "timed pauses and delays elapse",
    "untimed pauses are promoted and user pauses resumed",
    "judgements are approved",
    "analysis steps succeed; background analyses never breach",
    "webhook gates answer 2xx; job gates succeed",
]


def _summary(status: RolloutStatus) -> dict[str, Any]:
    return {
        "phase": status.phase.value,
        "stepIndex": status.step_index,
        "stable": None if status.stable is None else status.stable.version,
        "canary": None if status.canary is None else status.canary.version,
        "weights": dict(status.weights),
        "replicas": dict(status.replicas),
        "message": status.message,
    }


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class PlanRouter(MemoryRouter):
    """The memory router, able to mirror like Istio (a plan records the write, nothing more)."""

    mirror: tuple[Color | None, float] = (None, 0.0)

    async def set_mirror(self, color: Color | None, percentage: float = 100.0) -> None:
        self.mirror = (color, percentage)


class _PassingGates:
    """Webhook receivers that answer 2xx at once, without a request being sent."""

    def __init__(self, noted: list[str]) -> None:
        self.noted = noted

    async def call(
        self,
        url: str,
        body: bytes,
        *,
        secret: str | None,
        timeout: float,
        retries: int,
        hook: str,
        delivery: str,
    ) -> GateCall:
        name = json.loads(body).get("name")  # the body gate_body built, never a receiver's
        self.noted.append(f"assumed: webhook gate {hook} {name} answers 2xx")
        return GateCall(
            ok=True, status_code=200, duration=0.0, attempts=1, description="assumed passed"
        )


class _PassingJobs:
    """Job gates that succeed at once, without a Job being created."""

    def __init__(self, noted: list[str]) -> None:
        self.noted = noted

    async def measure_keyed(
        self, source: JobSource, run: str, metric: str, index: int
    ) -> list[float] | None:
        self.noted.append(f"assumed: job gate {metric} succeeds")
        return [1.0]


class _NoSecrets:
    async def resolve(self, ref: SecretRef, namespace: str) -> str:
        return "plan"  # never sent: the plan's gates make no request


class _PlanEngine(Engine):
    """The real engine, except that measuring is replaced by the assumed outcome."""

    noted: list[str]

    async def _measure(
        self, rollout: Rollout, status: RolloutStatus
    ) -> dict[str, AnalysisRunState]:
        run = status.analysis
        if run is None or run.completed or run.name != run_name(status.step_index):
            return {}
        passed = run.model_copy(
            update={
                "phase": AnalysisPhase.SUCCESSFUL,
                "message": "assumed successful by serinus plan",
                "finished_at": self.clock(),
            }
        )
        self.noted.append(f"assumed: analysis {run.name} successful")
        return {"analysis": passed}


async def _seeded_world(status: RolloutStatus | None) -> tuple[PlanRouter, MemoryPlatform]:
    """Adapters that report what the status says is running and routed."""
    platform = MemoryPlatform(MemoryWorld(observes_until_ready=1))
    router = PlanRouter(weights=_weights(status))
    if status is None:
        return router, platform
    for color in COLORS:
        version, replicas = status.version_of(color), status.replicas.get(color, 0)
        if version is not None and replicas > 0:
            await platform.ensure(color, version, replicas)
    for route in status.header_routes:
        await router.set_header_route(route.name, route.matches, route.color)
    router.preview = status.preview
    if status.mirror and status.canary is not None:
        router.mirror = (status.canary.color, float(status.mirror))
    return router, platform


def _weights(status: RolloutStatus | None) -> Mapping[Color, int]:
    if status is None or sum(status.weights.values()) != 100:
        return {"blue": 100}
    return {color: status.weights.get(color, 0) for color in COLORS}


async def plan_rollout(
    rollout: Rollout,
    current: tuple[Rollout, RolloutStatus | None] | None,
    now: float,
) -> Plan:
    """The plan of `rollout` from `current` (the recorded spec and status), or from nothing."""
    store = MemoryStateStore()
    status = None
    if current is not None:
        recorded, status = current
        await store.submit(recorded)
        if status is not None:
            await store.save(rollout.name, status, (), ())
    await operations.submit(store, rollout)
    router, platform = await _seeded_world(status)
    clock = _Clock(now)
    noted: list[str] = []
    engine = _PlanEngine(
        store,
        router,
        platform,
        clock=clock,
        gates=GateRunner(_PassingGates(noted), _NoSecrets(), _PassingJobs(noted)),
    )
    engine.noted = noted
    plan = Plan(rollout=rollout, start=status)
    await router.prepare()
    for _ in range(MAX_RECONCILES):
        before = await store.load(rollout.name)
        result = await engine.reconcile(rollout.name)
        if result.error is not None:
            plan.stopped = f"the engine failed: {result.error}"
            break
        for said in noted:  # measured and called before deciding: at the step it started at
            entry = _entry(before or result.status, clock.now - now)
            plan.entries.append(_with(entry, assumed=said))
        noted.clear()
        _record(plan, before, result, clock.now - now)
        if result.status.terminal:
            break
        if _moved(before, result):
            continue
        if not await _pass_gate(plan, store, rollout, result.status, clock.now - now):
            wake = result.decision.wake_at if result.decision is not None else None
            if wake is None or wake <= clock.now:
                plan.stopped = f"the rollout stays {result.status.phase}: {result.status.message}"
                break
            entry = _entry(result.status, clock.now - now)
            plan.entries.append(_with(entry, waited=wake - clock.now))
            clock.now = wake
    else:
        plan.stopped = f"no end after {MAX_RECONCILES} reconciles"
    plan.final = await store.load(rollout.name)
    return plan


def _moved(before: RolloutStatus | None, result: Reconciled) -> bool:
    decision = result.decision
    if decision is None:
        return False
    changed = before is None or result.status.model_copy(update={"ready": before.ready}) != before
    return bool(decision.actions or decision.events or decision.consumed or changed)


def _entry(status: RolloutStatus, at: float, from_step: int | None = None) -> PlanEntry:
    start = status.step_index if from_step is None else from_step
    return PlanEntry(start, status.step_index, status.phase, status.message, at)


def _restarted(before: RolloutStatus, result: Reconciled) -> bool:
    """A new version started the steps again: the reconcile began at the first step."""
    canary = result.status.canary
    return canary is not None and (before.canary is None or before.canary != canary)


def _with(entry: PlanEntry, **changes: Any) -> PlanEntry:
    return PlanEntry(**{**entry.__dict__, **changes})


def _record(plan: Plan, before: RolloutStatus | None, result: Reconciled, at: float) -> None:
    actions = result.decision.actions if result.decision is not None else []
    if actions:
        started = before.step_index if before is not None and not _restarted(before, result) else 0
        entry = _entry(result.status, at, started)
        plan.entries.append(_with(entry, actions=tuple(PlannedAction.of(a) for a in actions)))


async def _pass_gate(
    plan: Plan, store: MemoryStateStore, rollout: Rollout, status: RolloutStatus, at: float
) -> bool:
    """Pass the gate the rollout waits at with the operation a person would use."""
    name = rollout.name
    if status.paused_by_user:
        kind, approve, inputs, said = IntentKind.RESUME, None, {}, "resumed"
    elif status.phase is Phase.AWAITING_JUDGEMENT:
        judgement = _judgement(rollout, status)
        inputs = _inputs(judgement) if judgement is not None else {}
        kind, approve, said = IntentKind.JUDGE, True, "judgement approved"
    elif status.phase is Phase.PAUSED and not _timed_pause(rollout, status):
        kind, approve, inputs, said = IntentKind.PROMOTE, None, {}, "promoted"
    else:
        return False
    try:
        await operations.request(
            store, name, kind, actor=PLAN_ACTOR, source="plan", approve=approve, inputs=inputs
        )
    except SerinusError:
        return False  # the operation does not apply: the rollout waits for something else
    if inputs:
        said += " with " + ", ".join(f"{key}={value}" for key, value in inputs.items())
    plan.entries.append(_with(_entry(status, at), assumed=f"assumed: {said}"))
    return True


def _judgement(rollout: Rollout, status: RolloutStatus) -> Judgement | None:
    steps = plan_for(rollout.spec).steps
    return steps[status.step_index].judgement if status.step_index < len(steps) else None


def _inputs(judgement: Judgement) -> dict[str, str]:
    """Values for the inputs an approval needs: the first option, else a placeholder."""
    return {
        item.name: item.options[0] if item.options else "planned"
        for item in judgement.inputs
        if item.required
    }


def _timed_pause(rollout: Rollout, status: RolloutStatus) -> bool:
    steps = plan_for(rollout.spec).steps
    if status.step_index >= len(steps):
        return False
    pause = steps[status.step_index].pause
    return pause is not None and pause.duration is not None


def flattened(actions: Sequence[Action]) -> list[PlannedAction]:
    """Actions as the plan records them, to compare a run with its plan."""
    return [PlannedAction.of(action) for action in actions]
