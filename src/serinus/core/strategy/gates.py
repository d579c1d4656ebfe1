"""Where webhook gates sit in a rollout, and what their outcome does to it.

A gate that is due is recorded in the status as Pending; the engine's app layer calls it and
hands the new state back through `Observed.gates`, which `fold_calls` takes in (one event per
call). Blocking gates (webhook steps, preRollout, confirm*) keep the rollout where it is until
they pass; on failure they hold, abort or continue per `onFailure`. Reporting hooks (postRollout,
rollback) are requested and never waited for. A passed gate stays in the status, so a restart
does not call it again; a held one stays Pending, so a restart keeps the hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from serinus.core.events import EventType
from serinus.core.gates import (
    GatePhase,
    GateState,
    OnFailure,
    Webhook,
    on_failure_of,
)
from serinus.core.spec import RolloutSpec, hooks_of, steps_of
from serinus.core.status import RolloutStatus
from serinus.core.strategy.builder import Builder
from serinus.core.strategy.gate_requests import cancel_stale, current_gate, hooks, request_gate
from serinus.core.strategy.stopping import abort

_OUTCOME_EVENT = {
    GatePhase.PASSED: EventType.GATE_PASSED,
    GatePhase.PENDING: EventType.GATE_HELD,
    GatePhase.FAILED: EventType.GATE_FAILED,
    GatePhase.CANCELLED: EventType.GATE_FAILED,  # not reached: a call never cancels
}


def webhook_for(spec: RolloutSpec, gate: GateState) -> tuple[Webhook, OnFailure] | None:
    """The spec of a gate in the status; None when the spec no longer has it."""
    if gate.kind == "step":
        steps = steps_of(spec.strategy)
        if gate.step is None or gate.step >= len(steps):
            return None
        webhook = steps[gate.step].webhook
        return None if webhook is None else (webhook, on_failure_of(webhook, "step"))
    for hook in hooks_of(spec.strategy):
        if hook.type == gate.kind and hook.name == gate.name:
            return hook, on_failure_of(hook, hook.type)
    return None


def due_gates(status: RolloutStatus, now: float) -> list[GateState]:
    """The gates whose call is due now (what the app performs)."""
    return [g for g in status.gates if g.phase is GatePhase.PENDING and g.next_at <= now]


def fold_calls(b: Builder) -> None:
    """Take in the calls the app made since the last decision: one event per call; a gate
    cancelled meanwhile (an abort in this decision) stays cancelled; a call still pending (its
    Job runs) only moves the time it is asked again."""
    gates = list(b.status.gates)
    for called in b.observed.gates:
        for index, gate in enumerate(gates):
            if gate.id != called.id or gate.started_at != called.started_at:
                continue
            cancelled = gate.phase is GatePhase.CANCELLED
            if called.calls > gate.calls:
                _record_event(b, called)
                gates[index] = (
                    called.model_copy(update={"phase": gate.phase}) if cancelled else called
                )
            elif not cancelled and called.next_at != gate.next_at:  # a Job still runs
                gates[index] = called
    if b.observed.gates:
        b.update(gates=gates)
    cancel_stale(b)


def _record_event(b: Builder, gate: GateState) -> None:
    outcome = {
        GatePhase.PASSED: "passed",
        GatePhase.PENDING: "held",
        GatePhase.FAILED: "failed",
        GatePhase.CANCELLED: "cancelled",
    }
    b.emit(
        _OUTCOME_EVENT[gate.phase],
        f"gate {gate.kind} {gate.name} {outcome[gate.phase]}: {gate.description}",
        gate=gate.id,
        gateKind=gate.kind,
        call=gate.calls,
        attempts=gate.attempts,
        statusCode=gate.status_code,
        duration=gate.duration,
    )


def gates_open(
    b: Builder,
    gates: Sequence[tuple[str, str, str, Webhook]],
    since: float,
    step: int | None = None,
) -> bool:
    """True when every gate `(id, name, kind, webhook)` passed (or failed with continue);
    otherwise requests the missing ones, waits, or aborts for a failed gate with abort."""
    waiting: list[GateState] = []
    for gate_id, name, kind, webhook in gates:
        gate = current_gate(b, gate_id, since) or request_gate(b, gate_id, name, kind, step)
        policy = on_failure_of(webhook, kind)
        if gate.phase is GatePhase.FAILED and policy == "abort":
            abort(b, f"gate {kind} {name} failed: {gate.description}")
            return False
        if gate.phase is GatePhase.PENDING:
            waiting.append(gate)
    if not waiting:
        return True
    first = waiting[0]
    held = f": {first.description}" if first.calls else ""
    b.update(message=f"waiting for gate {first.kind} {first.name}{held}")
    b.wake(min(gate.next_at for gate in waiting))
    return False


def confirm_rollout_open(b: Builder) -> bool:
    """confirmRollout, before anything of the canary runs. Once every one passed, the canary's
    replicas are set (provisioning starts) and its progress deadline counts from then, so the
    time a gate held is never counted against the canary's readiness."""
    gates = hooks(b, "confirmRollout")
    if not gates_open(b, gates, b.status.rollout_started_at or 0.0):
        return False
    color = b.canary.color
    if gates and b.status.replicas.get(color, 0) == 0 and not b.plan.canary_follows_weight:
        b.update(replicas={**b.status.replicas, color: b.plan.replicas}, phase_since=b.now)
    return True


def pre_rollout_open(b: Builder) -> bool:
    """preRollout: after the canary is provisioned, before any user traffic reaches it."""
    return gates_open(b, hooks(b, "preRollout"), b.status.rollout_started_at or 0.0)


def traffic_increase_open(b: Builder, weight: int) -> bool:
    """confirmTrafficIncrease before the canary's weight rises (not when it stays or falls)."""
    if weight <= b.status.weights.get(b.canary.color, 0):
        return True
    index = b.status.step_index
    return gates_open(b, hooks(b, "confirmTrafficIncrease", index), _step_since(b), index)


def promotion_open(b: Builder) -> bool:
    return gates_open(b, hooks(b, "confirmPromotion"), b.status.rollout_started_at or 0.0)


def webhook_step_open(b: Builder, webhook: Webhook) -> bool:
    index = b.status.step_index
    return gates_open(
        b, [(f"steps[{index}]", webhook.name, "step", webhook)], _step_since(b), index
    )


def _step_since(b: Builder) -> float:
    return b.status.step_started_at or b.now
