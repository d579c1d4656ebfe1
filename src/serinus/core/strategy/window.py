"""The rollback window: the previous version kept after completion, and an undo within it.

With `rollbackWindow`, the promotion's teardown of the previous version becomes, once its
`scaleDownDelay` has passed, a window: the color keeps `replicas` of the previous version at
weight 0 until `until`. The rollout is Completed (terminal, converged) meanwhile. An undo (the
spec's version back on the kept version) is then the abort path: the kept version becomes stable
at once, the undone one is left as a teardown after `abortScaleDownDelay`, and the capacity rule
moves the traffic as far as the kept replicas are ready (all of it when it was kept at full
size), the rest as it scales back up. Nothing is provisioned. The window closes at `until`
(whoever reconciles after it tears the color down) or when a new rollout needs the color.
"""

from __future__ import annotations

from serinus.core.events import EventType
from serinus.core.status import (
    Phase,
    Revision,
    RollbackWindowState,
    ScheduledTeardown,
)
from serinus.core.strategy.builder import Builder
from serinus.core.strategy.capacity import ready_of
from serinus.core.strategy.gate_requests import report


def keeps_window(b: Builder, teardown: ScheduledTeardown) -> bool:
    """Whether this due teardown is the promotion's, and the spec keeps a window instead."""
    stable = b.status.stable
    return (
        b.plan.window is not None
        and b.status.phase is Phase.SCALING_DOWN
        and stable is not None
        and teardown.color != stable.color
        and teardown.version == b.status.previous_version
    )


def open_window(b: Builder, teardown: ScheduledTeardown) -> None:
    window = b.plan.window
    assert window is not None
    full = b.plan.replicas
    kept = window.replicas_of(full)
    replicas = dict(b.status.replicas)
    replicas[teardown.color] = kept
    until = b.now + window.duration
    b.update(
        replicas=replicas,
        rollback_window=RollbackWindowState(
            color=teardown.color, version=teardown.version, replicas=kept, until=until
        ),
    )
    b.wake(until)
    b.emit(
        EventType.ROLLBACK_WINDOW_OPENED,
        f"{teardown.version} kept at {kept}/{full} replicas for {window.duration:g}s: "
        "an undo until then moves traffic back without provisioning",
        version=teardown.version,
        color=teardown.color,
        replicas=kept,
        until=until,
    )


def close_window_when_due(b: Builder) -> None:
    window = b.status.rollback_window
    if window is None:
        return
    if b.now < window.until:
        b.wake(window.until)
        return
    replicas = dict(b.status.replicas)
    replicas.pop(window.color, None)
    b.update(replicas=replicas, rollback_window=None)
    b.emit(
        EventType.ROLLBACK_WINDOW_CLOSED,
        f"rollback window closed: {window.version} scaled down",
        version=window.version,
        color=window.color,
    )


def yield_window(b: Builder, target: str) -> ScheduledTeardown | None:
    """Close the window because a new rollout needs its color; the kept version is then
    drained and replaced by the usual rules (the teardown returned)."""
    window = b.status.rollback_window
    if window is None:
        return None
    b.update(rollback_window=None)
    b.emit(
        EventType.ROLLBACK_WINDOW_CLOSED,
        f"rollback window closed: {target} needs the color of {window.version}",
        version=window.version,
        color=window.color,
    )
    return ScheduledTeardown(color=window.color, version=window.version, due=b.now)


def roll_back_within_window(b: Builder, who: str) -> str:
    """Make the kept version stable again now (the abort path); returns what was done."""
    window = b.status.rollback_window
    assert window is not None
    undone = b.stable
    full = b.plan.replicas
    teardown = ScheduledTeardown(
        color=undone.color, version=undone.version, due=b.now + b.plan.abort_scale_down_delay
    )
    b.update(
        stable=Revision(version=window.version, color=window.color),
        canary=None,
        previous_version=undone.version,
        rollback_window=None,
        replicas={window.color: full, undone.color: b.status.replicas.get(undone.color, full)},
        teardowns=[t for t in b.status.teardowns if t.color != undone.color] + [teardown],
        revision=b.status.revision + 1,
        rollout_started_at=b.now,
        phase_since=b.now,
    )
    b.set_weights({window.color: 100, undone.color: 0})
    done = f"rolled back to {window.version} within the rollback window"
    b.enter(Phase.COMPLETED, done)
    ready = ready_of(b.status, b.observed, window.color)
    if ready >= full:
        moved = f"all traffic back on {window.version}"
    else:
        moved = (
            f"{ready}/{full} replicas of {window.version} ready: traffic moves back as they "
            "scale up"
        )
    b.emit(
        EventType.ROLLED_BACK,
        f"{done} {who}; {moved}",
        version=window.version,
        undone=undone.version,
        within_window=True,
    )
    report(b, "rollback")
    return done
