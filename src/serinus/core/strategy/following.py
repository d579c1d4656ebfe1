"""Following the spec's version: first deployment, a new rollout, a revert or a supersede.

A version that gives way (the canary when the spec is back on stable, a canary superseded by a
newer version) is recorded as a teardown of its color: the capacity rule keeps counting its ready
replicas as a place for traffic until the stable replicas can carry it, and the color is only
scaled down or replaced once no traffic is left on it.
"""

from __future__ import annotations

from serinus.core.actions import SetPreview
from serinus.core.events import EventType
from serinus.core.status import Phase, Revision, ScheduledTeardown, other_color
from serinus.core.strategy.builder import Builder
from serinus.core.strategy.gate_requests import holds_provisioning
from serinus.core.strategy.stopping import (
    remove_routes,
    stop_background_analysis,
    stop_step_analysis,
)
from serinus.core.strategy.window import roll_back_within_window, yield_window

# A first deployment that never went live is replaced in place by a newer version.
_NEVER_LIVE = (Phase.PROVISIONING, Phase.FAILED, Phase.ABORTED)


def follow_version(b: Builder, target: str) -> None:
    status = b.status
    if status.stable is None:
        if status.phase is Phase.PENDING:
            b.update(
                stable=Revision(version=target, color="blue"),
                replicas={"blue": b.plan.replicas},
                rollout_started_at=b.now,
                revision=status.revision + 1,
            )
            b.enter(Phase.PROVISIONING, f"first deployment of {target}")
            b.emit(EventType.ROLLOUT_STARTED, f"first deployment of {target}", version=target)
        return
    stable = status.stable
    canary = status.canary
    if canary is not None and target == canary.version:
        return
    window = status.rollback_window
    if window is not None and canary is None and target == window.version:
        roll_back_within_window(b, "(the spec's version is back on it)")
        return
    if target == stable.version:
        if canary is not None:
            _drop_canary(b, f"spec is back on the stable version {target}")
        return
    if canary is None and status.phase in _NEVER_LIVE:
        b.update(
            stable=Revision(version=target, color=stable.color),
            rollout_started_at=b.now,
            revision=status.revision + 1,
        )
        b.enter(Phase.PROVISIONING, f"first deployment of {target}")
        b.emit(EventType.ROLLOUT_STARTED, f"first deployment of {target}", version=target)
        return
    _start_rollout(b, target)


def _leaving(b: Builder, revision: Revision) -> ScheduledTeardown:
    return ScheduledTeardown(color=revision.color, version=revision.version, due=b.now)


def _drop_canary(b: Builder, reason: str) -> None:
    stable, canary = b.stable, b.canary
    remove_routes(b)
    stop_step_analysis(b, reason)
    stop_background_analysis(b, reason)
    replicas = {stable.color: b.plan.replicas}
    if canary.color in b.status.replicas:
        replicas[canary.color] = b.status.replicas[canary.color]
    b.update(
        canary=None,
        replicas=replicas,
        teardowns=[t for t in b.status.teardowns if t.color != canary.color]
        + [_leaving(b, canary)],
        step_index=0,
        step_started_at=None,
        paused_by_user=False,
    )
    b.set_weights({stable.color: 100, canary.color: 0})
    b.enter(Phase.COMPLETED, reason)
    b.emit(EventType.ABORTED, f"{reason}; {canary.version} removed", canary=canary.version)


def _start_rollout(b: Builder, target: str) -> None:
    stable = b.stable
    superseded = b.status.canary
    color = other_color(stable.color)
    remove_routes(b)
    stop_step_analysis(b, f"{target} replaces the rollout")
    stop_background_analysis(b, f"{target} replaces the rollout")
    replicas = {stable.color: b.plan.replicas}
    # With confirmRollout the canary is provisioned once it passes (gates.confirm_rollout_open).
    held = holds_provisioning(b.spec)
    if b.plan.rolling is None and not b.plan.canary_follows_weight and not held:
        replicas[color] = b.plan.replicas
    teardowns = [t for t in b.status.teardowns if t.color != color]
    if superseded is not None:
        teardowns.append(_leaving(b, superseded))  # drained before its color is reused
    if (kept := yield_window(b, target)) is not None:
        teardowns.append(kept)  # the same: drained before the new version replaces it
    b.update(
        canary=Revision(version=target, color=color),
        weights={stable.color: 100, color: 0},
        replicas=replicas,
        teardowns=teardowns,
        step_index=0,
        step_started_at=None,
        paused_by_user=False,
        rollout_started_at=b.now,
        revision=b.status.revision + 1,
    )
    message = f"rolling out {target} beside {stable.version}"
    if superseded is not None:
        message += f" (supersedes {superseded.version})"
    b.enter(Phase.PROVISIONING, message)
    b.emit(
        EventType.ROLLOUT_STARTED,
        message,
        version=target,
        stable=stable.version,
        strategy=b.plan.strategy,
    )
    if b.plan.preview:
        b.route_actions.append(SetPreview(color=color))
        b.update(preview=color)
