"""The rollout state machine: `decide(rollout, status, observed, intents, now)`.

Pure: it reads the spec, the persisted status, what the platform and router report and the
operations people asked for, and returns the next status, the events, and the actions that make
the world match it. The status holds the *desired* weights and replicas; `converge` turns the
difference between desired and observed into idempotent actions, and every weight it writes
obeys one rule: traffic only where ready capacity is (`capacity.py`). The parts:
`operations` (intents), `following` (the spec's version), `steps` and `rolling` (progress),
`stopping` (abort and what leaving a step stops), `window` (the rollback window and an undo
within it), `router_outage` (an unreachable router), `converge` (actions and convergence).
"""

from __future__ import annotations

from serinus.core.intents import Intent
from serinus.core.spec import Rollout
from serinus.core.status import Observed, RolloutStatus
from serinus.core.strategy.builder import Builder, Decision
from serinus.core.strategy.converge import converge, note_convergence, scale_down_when_due
from serinus.core.strategy.following import follow_version
from serinus.core.strategy.operations import apply_intent
from serinus.core.strategy.plan import plan_for
from serinus.core.strategy.router_outage import (
    keep_routes_unwritten,
    remove_leftover_routes,
    router_answered,
)
from serinus.core.strategy.steps import progress
from serinus.core.strategy.window import close_window_when_due

__all__ = ["Decision", "decide"]


def decide(
    rollout: Rollout,
    status: RolloutStatus | None,
    observed: Observed,
    intents: list[Intent],
    now: float,
) -> Decision:
    builder = Builder(
        spec=rollout.spec,
        name=rollout.name,
        status=status or RolloutStatus(phase_since=now),
        observed=observed,
        plan=plan_for(rollout.spec),
        now=now,
        deadline=rollout.spec.progress_deadline_seconds,
        recorded_teardowns=tuple(status.teardowns) if status is not None else (),
    )
    if router_answered(builder):
        for intent in intents:
            apply_intent(builder, intent)
        follow_version(builder, rollout.spec.version)
        progress(builder)
        scale_down_when_due(builder)
        close_window_when_due(builder)
        remove_leftover_routes(builder)
    else:  # operations and spec changes wait for the router; a deadline abort does not
        keep_routes_unwritten(builder, status or RolloutStatus(phase_since=now))
    actions = converge(builder)
    note_convergence(builder, actions)
    return Decision(
        status=builder.status,
        actions=actions,
        events=builder.events,
        consumed=builder.consumed,
        wake_at=builder.wake_at,
    )
