"""Recording that a webhook gate is due: the Pending state the app layer will call.

Split from `gates` so that `stopping` (abort requests the rollback hooks) does not import the
module that aborts on a failed gate.
"""

from __future__ import annotations

from serinus.core.gates import NON_BLOCKING, GatePhase, GateState, Webhook
from serinus.core.spec import RolloutSpec, hooks_of
from serinus.core.status import Phase
from serinus.core.strategy.builder import Builder


def gate_variables(b: Builder) -> dict[str, str]:
    found = {"rollout.name": b.name}
    for role, revision in (("canary", b.status.canary), ("stable", b.status.stable)):
        if revision is not None:
            found[f"{role}.version"] = revision.version
            found[f"{role}.color"] = revision.color
    return found


def holds_provisioning(spec: RolloutSpec) -> bool:
    """True when the canary is provisioned only once confirmRollout passed (Flagger: "before
    scaling up the canary"): a rollout start then leaves the canary's replicas out."""
    return any(hook.type == "confirmRollout" for hook in hooks_of(spec.strategy))


def current_gate(b: Builder, gate_id: str, since: float) -> GateState | None:
    for gate in b.status.gates:
        if gate.id == gate_id and gate.started_at >= since:
            return gate
    return None


def request_gate(b: Builder, gate_id: str, name: str, kind: str, step: int | None) -> GateState:
    since = b.status.rollout_started_at or 0.0
    # gates of an earlier rollout (or an earlier run of this step) are dropped
    kept = [g for g in b.status.gates if g.id != gate_id and g.started_at >= since]
    gate = GateState(
        id=gate_id,
        name=name,
        kind=kind,
        step=step,
        started_at=b.now,
        next_at=b.now,
        variables=gate_variables(b),
    )
    b.update(gates=[*kept, gate])
    return gate


def hooks(b: Builder, kind: str, step: int | None = None) -> list[tuple[str, str, str, Webhook]]:
    suffix = "" if step is None else f"/steps[{step}]"
    return [
        (f"{kind}/{hook.name}{suffix}", hook.name, kind, hook)
        for hook in hooks_of(b.spec.strategy)
        if hook.type == kind
    ]


_ENDED = frozenset({Phase.ABORTED, Phase.FAILED, Phase.COMPLETED, Phase.SCALING_DOWN})


def _guards_nothing(b: Builder, gate: GateState) -> bool:
    """A pending blocking gate whose rollout or step is over (aborted, promoted, superseded)."""
    status = b.status
    return (
        gate.kind not in NON_BLOCKING
        and gate.phase is GatePhase.PENDING
        and (
            status.canary is None
            or status.phase in _ENDED
            or gate.started_at < (status.rollout_started_at or 0.0)
            or (gate.step is not None and gate.step != status.step_index)
        )
    )


def cancel_stale(b: Builder) -> None:
    """Stop calling blocking gates that guard nothing any more: the app never calls them again."""
    if any(_guards_nothing(b, gate) for gate in b.status.gates):
        cancelled = GatePhase.CANCELLED
        gates = [
            gate.model_copy(update={"phase": cancelled}) if _guards_nothing(b, gate) else gate
            for gate in b.status.gates
        ]
        b.update(gates=gates)


def report(b: Builder, *kinds: str) -> None:
    """Request the reporting hooks (postRollout, rollback): called, never waited for."""
    cancel_stale(b)
    since = b.status.rollout_started_at or 0.0
    for kind in kinds:
        assert kind in NON_BLOCKING
        for gate_id, name, hook_kind, _ in hooks(b, kind):
            if current_gate(b, gate_id, since) is None:
                request_gate(b, gate_id, name, hook_kind, None)
                b.wake(b.now)
