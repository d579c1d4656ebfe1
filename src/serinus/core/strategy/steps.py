"""Progress through the steps: first deployment, the canary's steps, analysis and promotion.

Steps only change the desired weights and replicas; a weight is raised on the canary only once
enough of its replicas are ready, and `converge` applies the capacity rule to every write.
"""

from __future__ import annotations

from serinus.core.actions import RemoveHeaderRoute, SetHeaderRoute, SetMirror
from serinus.core.analysis.run import AnalysisPhase, next_due, start_run
from serinus.core.errors import InvalidInput
from serinus.core.events import EventType
from serinus.core.spec import AnalysisStep, background_analysis_of
from serinus.core.status import HeaderRouteState, Phase, ScheduledTeardown, other_color
from serinus.core.strategy.analysis_step import BACKGROUND_RUN, run_name, template_for, variables
from serinus.core.strategy.builder import Builder
from serinus.core.strategy.gate_requests import report
from serinus.core.strategy.gates import (
    confirm_rollout_open,
    fold_calls,
    pre_rollout_open,
    promotion_open,
    traffic_increase_open,
    webhook_step_open,
)
from serinus.core.strategy.rolling import progress_rolling
from serinus.core.strategy.stopping import (
    abort,
    check_deadline,
    remove_routes,
    stop_background_analysis,
    stop_step_analysis,
)

_MAX_STEPS_PER_DECISION = 1000


def progress(b: Builder) -> None:
    fold_calls(b)
    status = b.status
    if status.stable is None:
        return
    if status.canary is None:
        if status.phase is Phase.PROVISIONING:
            _first_deployment(b)
        return
    if status.phase in (Phase.ABORTED, Phase.FAILED, Phase.COMPLETED, Phase.SCALING_DOWN):
        return
    # Only the canary's own failure: its color may still report the version it replaces.
    seen = b.observed.color(b.canary.color)
    failure = seen.failure if seen.version == b.canary.version else None
    if failure:
        abort(b, f"{b.canary.version} cannot run: {failure}", Phase.FAILED)
        return
    if not _background_analysis(b):
        return
    if b.status.paused_by_user and b.status.phase is not Phase.PROMOTING:
        b.enter(Phase.PAUSED, b.status.message or "paused by a user: resume to continue")
        return
    if b.plan.rolling is not None:
        progress_rolling(b)
        return
    if status.phase is Phase.PROVISIONING:
        if not confirm_rollout_open(b):  # before anything of the canary runs
            return
        needed = 0 if b.plan.canary_follows_weight else b.plan.replicas
        since = b.status.phase_since  # reset when confirmRollout passed
        if not _canary_ready(b, needed, since=since, waiting_for="provisioning"):
            return
        if not pre_rollout_open(b):
            return
        b.update(step_index=0, step_started_at=b.now)
        b.enter(Phase.PROGRESSING)
    for _ in range(_MAX_STEPS_PER_DECISION):
        if b.status.phase is Phase.PROMOTING or b.status.step_index >= len(b.plan.steps):
            _promote(b)
            return
        if not _run_step(b):
            return


def _first_deployment(b: Builder) -> None:
    stable = b.stable
    state = b.observed.color(stable.color)
    if state.failure and state.version == stable.version:
        b.enter(Phase.FAILED, f"{stable.version} cannot run: {state.failure}")
        b.emit(EventType.FAILED, b.status.message, version=stable.version)
        return
    if state.version == stable.version and state.ready >= b.plan.replicas:
        b.update(weights={stable.color: 100, other_color(stable.color): 0})
        b.enter(Phase.COMPLETED, f"{stable.version} is live")
        b.emit(EventType.COMPLETED, f"{stable.version} is live", version=stable.version)
        return
    check_deadline(b, b.status.phase_since, f"{stable.version} to become ready", stable)


def _canary_ready(b: Builder, needed: int, since: float, waiting_for: str) -> bool:
    canary = b.canary
    state = b.observed.color(canary.color)
    if needed == 0 or (state.version == canary.version and state.ready >= needed):
        return True
    ready = state.ready if state.version == canary.version else 0
    b.update(message=f"{waiting_for}: {ready}/{needed} replicas of {canary.version} ready")
    check_deadline(b, since, f"{canary.version} to become ready", canary)
    return False


def _run_step(b: Builder) -> bool:
    """Run the current step; True when it completed and the next one may start now."""
    step = b.current_step()
    assert step is not None
    if b.status.step_started_at is None:
        b.update(step_started_at=b.now)
    started = b.status.step_started_at or b.now
    canary, stable = b.canary, b.stable
    if step.set_weight is not None:
        weight = step.set_weight
        needed = b.plan.canary_replicas(weight)
        replicas = dict(b.status.replicas)
        replicas[canary.color] = max(needed, _canary_floor(b))
        b.update(replicas=replicas)
        if not _canary_ready(b, needed, since=started, waiting_for=f"setWeight {weight}"):
            return False
        if not traffic_increase_open(b, weight):
            return False
        if b.status.weights.get(canary.color) != weight:
            b.update(weights={canary.color: weight, stable.color: 100 - weight})
            b.emit(
                EventType.WEIGHTS_CHANGED,
                f"{canary.version} {weight}% / {stable.version} {100 - weight}%",
                weights={canary.version: weight, stable.version: 100 - weight},
            )
        b.advance(f"{canary.version} at {weight}%")
        return True
    if step.pause is not None:
        duration = step.pause.duration
        if duration is None:
            b.enter(Phase.PAUSED, "paused: promote to continue")
            return False
        due = started + duration
        if b.now < due:
            b.enter(Phase.PAUSED, f"paused for {duration:g}s")
            b.wake(due)
            return False
        b.advance(f"paused {duration:g}s")
        return True
    if step.judgement is not None:
        judgement = step.judgement
        if judgement.timeout is not None:
            due = started + judgement.timeout
            if b.now >= due:
                message = f"judgement timed out after {judgement.timeout:g}s"
                b.emit(
                    EventType.JUDGED,
                    f"{message}: {judgement.on_timeout}",
                    approved=judgement.on_timeout == "continue",
                    actor="timeout",
                    step=b.status.step_index,
                )
                if judgement.on_timeout == "continue":
                    b.advance(message)
                    return True
                abort(b, message)
                return False
            b.wake(due)
        if b.enter(Phase.AWAITING_JUDGEMENT, "awaiting judgement"):
            b.emit(
                EventType.AWAITING_JUDGEMENT,
                f"{canary.version} awaits judgement: {judgement.instructions}".rstrip(": "),
                step=b.status.step_index,
                instructions=judgement.instructions,
                inputs=[i.model_dump(by_alias=True) for i in judgement.inputs],
                requiredRoles=judgement.required_roles,
            )
        return False
    if step.set_header_route is not None:
        route = step.set_header_route
        matches = [m.model_dump(by_alias=True, exclude_none=True) for m in route.match]
        if matches and b.plan.canary_follows_weight:
            # Testers' requests must find a ready canary replica even before any weight.
            replicas = dict(b.status.replicas)
            replicas[canary.color] = max(replicas.get(canary.color, 0), 1)
            b.update(replicas=replicas)
            if not _canary_ready(b, 1, since=started, waiting_for=f"header route {route.name}"):
                return False
        kept = [r for r in b.status.header_routes if r.name != route.name]
        if matches:
            b.route_actions.append(
                SetHeaderRoute(name=route.name, matches=matches, color=canary.color)
            )
            kept.append(HeaderRouteState(name=route.name, matches=matches, color=canary.color))
        else:
            b.route_actions.append(RemoveHeaderRoute(name=route.name))
        b.update(header_routes=kept)
        b.emit(
            EventType.HEADER_ROUTE_CHANGED,
            f"header route {route.name} " + ("set" if matches else "removed"),
            route=route.name,
            matches=matches,
        )
        b.advance(f"header route {route.name}")
        return True
    if step.analysis is not None:
        return _run_analysis(b, step.analysis)
    if step.webhook is not None:
        if not webhook_step_open(b, step.webhook):
            return False
        b.advance(f"webhook {step.webhook.name} passed")
        return True
    if step.set_mirror is not None:
        percentage = step.set_mirror.percentage
        b.route_actions.append(
            SetMirror(color=canary.color if percentage else None, percentage=percentage)
        )
        b.update(mirror=percentage)
        b.advance(f"mirroring {percentage}% of requests to {canary.version}")
        return True
    raise AssertionError(f"unhandled step kind {step.kind}")  # the Step model rules this out


def _background_analysis(b: Builder) -> bool:
    """Run the strategy's background analysis; False when it stopped the rollout."""
    background = background_analysis_of(b.spec.strategy)
    status = b.status
    if (
        background is None
        or status.phase is Phase.PROMOTING
        or status.step_started_at is None
        or status.step_index < background.starting_step
    ):
        return True
    template = template_for(b.spec, background)
    run = status.background_analysis
    start = status.rollout_started_at or 0
    # A run of an earlier rollout is never this one's guard, even one that started in the same
    # instant as this rollout (then it was terminated by it: completed).
    if run is None or run.started_at < start or (run.completed and run.started_at <= start):
        try:
            run = start_run(
                template,
                variables(b.name, status, background),
                b.now,
                name=BACKGROUND_RUN,
                background=True,
            )
        except InvalidInput as exc:
            abort(b, f"background analysis cannot start: {'; '.join(exc.problems)}", Phase.FAILED)
            return False
        b.emit(EventType.ANALYSIS_STARTED, "background analysis started")
    previous = run.phase
    observed = b.observed.background_analysis
    if observed is not None and observed.started_at == run.started_at:
        run = observed
    b.update(background_analysis=run)
    if run.failed:
        b.emit(EventType.ANALYSIS_FAILED, f"background analysis {run.phase}: {run.message}")
        abort(b, f"background analysis {run.phase}: {run.message}")
        return False
    if run.phase is AnalysisPhase.INCONCLUSIVE and previous is not AnalysisPhase.INCONCLUSIVE:
        message = f"background analysis inconclusive ({run.message}): resume or abort"
        b.update(paused_by_user=True, message=message)
        b.emit(EventType.ANALYSIS_INCONCLUSIVE, message)
    if (due := next_due(template, run)) is not None:
        b.wake(due)
    return True


def _run_analysis(b: Builder, step: AnalysisStep) -> bool:
    index = b.status.step_index
    template = template_for(b.spec, step)
    run = b.status.analysis
    if (
        run is None
        or run.name != run_name(index)
        or run.started_at < (b.status.step_started_at or 0)
    ):
        try:
            run = start_run(
                template, variables(b.name, b.status, step), b.now, name=run_name(index)
            )
        except InvalidInput as exc:
            abort(b, f"analysis cannot start: {'; '.join(exc.problems)}", Phase.FAILED)
            return False
        b.update(analysis=run)
        b.enter(Phase.PROGRESSING, f"analysis {', '.join(step.templates)} running")
        b.emit(
            EventType.ANALYSIS_STARTED, f"analysis {', '.join(step.templates)} started", step=index
        )
    observed = b.observed.analysis
    if observed is not None and observed.name == run.name and observed.started_at == run.started_at:
        run = observed
        b.update(analysis=run)
    if run.phase is AnalysisPhase.SUCCESSFUL:
        b.emit(EventType.ANALYSIS_SUCCESSFUL, f"analysis passed: {run.message}".rstrip(": "))
        b.advance("analysis passed")
        return True
    if run.failed:
        b.emit(EventType.ANALYSIS_FAILED, f"analysis {run.phase}: {run.message}", step=index)
        abort(b, f"analysis {run.phase}: {run.message}")
        return False
    if run.phase is AnalysisPhase.INCONCLUSIVE:
        if b.enter(Phase.AWAITING_JUDGEMENT, f"analysis inconclusive: {run.message}"):
            b.emit(
                EventType.ANALYSIS_INCONCLUSIVE,
                f"analysis inconclusive ({run.message}): a person decides",
                step=index,
            )
        return False
    b.enter(Phase.PROGRESSING, f"analysis {', '.join(step.templates)} running")
    if (due := next_due(template, run)) is not None:
        b.wake(due)
    return False


def _canary_floor(b: Builder) -> int:
    """Replicas a header route needs even at weight 0 (testers' requests must find one)."""
    return 1 if b.status.header_routes else 0


def _promote(b: Builder) -> None:
    if b.status.phase is not Phase.PROMOTING and not promotion_open(b):
        return
    stable, canary = b.stable, b.canary
    replicas = dict(b.status.replicas)
    replicas[canary.color] = b.plan.replicas
    b.update(replicas=replicas)
    b.enter(Phase.PROMOTING, b.status.message or f"promoting {canary.version}")
    if not _canary_ready(b, b.plan.replicas, since=b.status.phase_since, waiting_for="promotion"):
        return
    remove_routes(b)
    stop_step_analysis(b, "the canary was promoted")
    stop_background_analysis(b, "the canary was promoted")
    teardown = ScheduledTeardown(
        color=stable.color, version=stable.version, due=b.now + b.plan.scale_down_delay
    )
    b.update(
        weights={canary.color: 100, stable.color: 0},
        stable=canary,
        canary=None,
        previous_version=stable.version,
        teardowns=[*b.status.teardowns, teardown],
        step_index=len(b.plan.steps),
    )
    b.emit(
        EventType.WEIGHTS_CHANGED,
        f"{canary.version} 100% / {stable.version} 0%",
        weights={canary.version: 100, stable.version: 0},
    )
    b.emit(EventType.PROMOTED, f"{canary.version} promoted: it takes all traffic", full=False)
    report(b, "postRollout")
    b.enter(
        Phase.SCALING_DOWN,
        f"{stable.version} kept {b.plan.scale_down_delay:g}s for a fast rollback",
    )
