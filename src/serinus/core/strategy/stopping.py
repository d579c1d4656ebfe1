"""Ending a rollout early: abort (to stable), rolling a promotion back, and what leaving a step
stops (routes, analysis runs). Every path only sets the *desired* weights; the capacity rule
(`capacity.py`) moves the traffic as the stable replicas are ready.
"""

from __future__ import annotations

from serinus.core.actions import RemoveHeaderRoute, SetMirror, SetPreview
from serinus.core.analysis.run import terminate
from serinus.core.events import EventType
from serinus.core.spec import background_analysis_of
from serinus.core.status import Phase, Revision, ScheduledTeardown
from serinus.core.strategy.analysis_step import run_name, template_for
from serinus.core.strategy.builder import Builder
from serinus.core.strategy.capacity import ready_of
from serinus.core.strategy.gate_requests import report


def abort(b: Builder, reason: str, phase: Phase = Phase.ABORTED) -> None:
    """All traffic back to stable (as fast as it is ready); the canary is kept, then removed."""
    kind = EventType.FAILED if phase is Phase.FAILED else EventType.ABORTED
    if b.status.canary is None or b.status.stable is None:
        b.enter(phase, reason)
        b.emit(kind, reason)
        return
    stable, canary = b.stable, b.canary
    remove_routes(b)
    stop_step_analysis(b, "the rollout was aborted")
    stop_background_analysis(b, "the rollout was aborted")
    teardown = ScheduledTeardown(
        color=canary.color, version=canary.version, due=b.now + b.plan.abort_scale_down_delay
    )
    replicas = dict(b.status.replicas)
    replicas[stable.color] = b.plan.replicas
    b.update(
        replicas=replicas,
        teardowns=[t for t in b.status.teardowns if t.color != canary.color] + [teardown],
        paused_by_user=False,
    )
    b.set_weights({stable.color: 100, canary.color: 0})
    b.enter(phase, reason)
    if ready_of(b.status, b.observed, stable.color) >= b.plan.replicas:
        moved = f"all traffic back on {stable.version}"
    else:
        moved = f"traffic moves back to {stable.version} as its replicas become ready"
    b.emit(kind, f"{reason}; {moved}", stable=stable.version, canary=canary.version)
    report(b, "rollback", "postRollout")


def roll_back_promotion(b: Builder, reason: str) -> None:
    """Abort after promotion, while the previous version still runs: swap back."""
    promoted = b.stable
    left = next((t for t in b.status.teardowns if t.color != promoted.color), None)
    window = b.status.rollback_window
    if left is not None:
        previous = Revision(version=left.version, color=left.color)
    elif window is not None:  # the previous version is already kept by the rollback window
        previous = Revision(version=window.version, color=window.color)
    else:
        abort(b, reason)
        return
    b.update(
        stable=previous,
        canary=promoted,
        previous_version=None,
        rollback_window=None,
        teardowns=[t for t in b.status.teardowns if t.color != previous.color],
        step_index=len(b.plan.steps),
    )
    abort(b, f"{reason} (rolled back the promotion of {promoted.version})")


def remove_routes(b: Builder) -> None:
    for route in b.status.header_routes:
        b.route_actions.append(RemoveHeaderRoute(name=route.name))
    if b.status.preview is not None:
        b.route_actions.append(SetPreview(color=None))
    if b.status.mirror:
        b.route_actions.append(SetMirror(color=None, percentage=0))
    b.update(header_routes=[], preview=None, mirror=0)


def stop_step_analysis(b: Builder, reason: str) -> None:
    """Terminate the current step's analysis run: its step is being left."""
    run = b.status.analysis
    if run is None or run.completed:
        return
    for index, step in enumerate(b.plan.steps):
        if step.analysis is not None and run.name == run_name(index):
            template = template_for(b.spec, step.analysis)
            b.update(analysis=terminate(template, run, b.now, reason))
            return


def stop_background_analysis(b: Builder, reason: str) -> None:
    run = b.status.background_analysis
    background = background_analysis_of(b.spec.strategy)
    if run is not None and background is not None and not run.completed:
        template = template_for(b.spec, background)
        b.update(background_analysis=terminate(template, run, b.now, reason))


def check_deadline(b: Builder, since: float, what: str, revision: Revision) -> None:
    due = since + b.deadline
    if b.now >= due:
        reason = f"progress deadline ({b.deadline:g}s) exceeded waiting for {what}"
        if revision is b.status.canary:
            abort(b, reason, Phase.FAILED)
        else:
            b.enter(Phase.FAILED, reason)
            b.emit(EventType.FAILED, reason, version=revision.version)
    else:
        b.wake(due)
