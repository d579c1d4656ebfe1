"""The rollout state machine: `decide(rollout, status, observed, intents, now)`.

Pure: it reads the spec, the persisted status, what the platform and router report and the
operations people asked for, and returns the next status, the events, and the actions that make
the world match it. The status holds the *desired* weights and replicas; `_converge` turns the
difference between desired and observed into idempotent actions, in an order that keeps traffic
safe: scale up first, then weights (the router raises before it lowers), then removals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from serinus.core.actions import (
    Action,
    EnsureVersion,
    RemoveHeaderRoute,
    SetHeaderRoute,
    SetMirror,
    SetPreview,
    SetWeights,
    TearDown,
)
from serinus.core.analysis.run import AnalysisPhase, next_due, start_run, terminate
from serinus.core.authorization import admission
from serinus.core.errors import InvalidInput
from serinus.core.events import Event, EventType
from serinus.core.intents import Intent, IntentKind
from serinus.core.spec import (
    AnalysisStep,
    Rollout,
    RolloutSpec,
    Step,
    background_analysis_of,
)
from serinus.core.status import (
    COLORS,
    Color,
    HeaderRouteState,
    Observed,
    Phase,
    Revision,
    RolloutStatus,
    ScheduledTeardown,
    other_color,
)
from serinus.core.strategy.analysis_step import (
    BACKGROUND_RUN,
    run_name,
    template_for,
    variables,
)
from serinus.core.strategy.plan import Plan, plan_for
from serinus.core.weights import apportion

_MAX_STEPS_PER_DECISION = 1000


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    actions: list[Action]
    events: list[Event]
    consumed: list[Intent]
    wake_at: float | None  # the next moment something timed is due (pause, timeout, teardown)


@dataclass
class _Builder:
    spec: RolloutSpec
    name: str
    status: RolloutStatus
    observed: Observed
    plan: Plan
    now: float
    deadline: float
    events: list[Event] = field(default_factory=list)
    consumed: list[Intent] = field(default_factory=list)
    route_actions: list[Action] = field(default_factory=list)
    wake_at: float | None = None

    def update(self, **changes: Any) -> None:
        self.status = self.status.model_copy(update=changes)

    def enter(self, phase: Phase, message: str = "") -> bool:
        changed = self.status.phase != phase
        if changed:
            self.update(phase=phase, phase_since=self.now, message=message)
        elif message != self.status.message:
            self.update(message=message)
        return changed

    def emit(self, kind: EventType, message: str, **data: Any) -> None:
        self.events.append(Event(type=kind, message=message, at=self.now, data=data))

    def wake(self, at: float) -> None:
        self.wake_at = at if self.wake_at is None else min(self.wake_at, at)

    def consume(self, intent: Intent, outcome: str) -> None:
        self.consumed.append(intent.model_copy(update={"outcome": outcome}))

    @property
    def stable(self) -> Revision:
        assert self.status.stable is not None
        return self.status.stable

    @property
    def canary(self) -> Revision:
        assert self.status.canary is not None
        return self.status.canary


def decide(
    rollout: Rollout,
    status: RolloutStatus | None,
    observed: Observed,
    intents: list[Intent],
    now: float,
) -> Decision:
    plan = plan_for(rollout.spec)
    builder = _Builder(
        spec=rollout.spec,
        name=rollout.name,
        status=status or RolloutStatus(phase_since=now),
        observed=observed,
        plan=plan,
        now=now,
        deadline=rollout.spec.progress_deadline_seconds,
    )
    for intent in intents:
        _apply_intent(builder, intent)
    _follow_version(builder, rollout.spec.version)
    _progress(builder)
    _scale_down_when_due(builder)
    actions = _converge(builder)
    return Decision(
        status=builder.status,
        actions=actions,
        events=builder.events,
        consumed=builder.consumed,
        wake_at=builder.wake_at,
    )


# --- operations --------------------------------------------------------------------------------


def _apply_intent(b: _Builder, intent: Intent) -> None:
    reason = admission(intent, b.plan, b.status)
    if reason is not None:
        _reject(b, intent, reason)
        return
    who = f"by {intent.actor}"
    if intent.kind is IntentKind.ABORT:
        reason = f"aborted {who}" + (f": {intent.comment}" if intent.comment else "")
        if b.status.phase is Phase.SCALING_DOWN:
            _roll_back_promotion(b, reason)
        else:
            _abort(b, reason)
    elif intent.kind is IntentKind.RETRY:
        _retry(b, who)
    elif intent.kind is IntentKind.PAUSE:
        b.update(paused_by_user=True)
        b.emit(EventType.PAUSED, f"paused {who}", actor=intent.actor)
    elif intent.kind is IntentKind.RESUME:
        b.update(paused_by_user=False)
        b.enter(Phase.PROVISIONING if b.status.step_started_at is None else Phase.PROGRESSING)
        b.emit(EventType.RESUMED, f"resumed {who}", actor=intent.actor)
    elif intent.kind is IntentKind.PROMOTE:
        if not _at_pause(b):
            _reject(b, intent, "the rollout is not at a pause step")
            return
        _advance(b, f"pause ended {who}")
    elif intent.kind is IntentKind.PROMOTE_FULL:
        b.update(step_index=len(b.plan.steps), paused_by_user=False)
        b.enter(Phase.PROMOTING, f"full promotion {who}")
        b.emit(EventType.PROMOTED, f"full promotion {who}: skipping the remaining steps", full=True)
    elif intent.kind is IntentKind.JUDGE:
        _judge(b, intent)
    # UNDO changed the desired version when it was requested; following it is _follow_version's job.
    b.consume(intent, "done")


def _reject(b: _Builder, intent: Intent, reason: str) -> None:
    b.consume(intent, f"rejected: {reason}")
    b.emit(
        EventType.OPERATION_REJECTED,
        f"{intent.kind} by {intent.actor} rejected: {reason}",
        operation=intent.kind.value,
        actor=intent.actor,
    )


def _at_pause(b: _Builder) -> bool:
    step = _current_step(b)
    return (
        b.status.phase is Phase.PAUSED
        and not b.status.paused_by_user
        and step is not None
        and step.pause is not None
    )


def _judge(b: _Builder, intent: Intent) -> None:
    data = {
        "approved": bool(intent.approve),
        "actor": intent.actor,
        "inputs": intent.inputs,
        "comment": intent.comment,
        "step": b.status.step_index,
    }
    verdict = "approved" if intent.approve else "rejected"
    detail = f"judgement {verdict} by {intent.actor}"
    if intent.inputs:
        detail += " (" + ", ".join(f"{k}={v}" for k, v in intent.inputs.items()) + ")"
    if intent.comment:
        detail += f": {intent.comment}"
    b.emit(EventType.JUDGED, detail, **data)
    if intent.approve:
        _advance(b, detail)
    else:
        _abort(b, detail)


def _abort(b: _Builder, reason: str, phase: Phase = Phase.ABORTED) -> None:
    """All traffic back to stable at once; the canary is kept for debugging, then removed."""
    if b.status.canary is None or b.status.stable is None:
        b.enter(phase, reason)
        b.emit(EventType.FAILED if phase is Phase.FAILED else EventType.ABORTED, reason)
        return
    stable, canary = b.stable, b.canary
    _remove_routes(b)
    _stop_background_analysis(b, "the rollout was aborted")
    teardown = ScheduledTeardown(
        color=canary.color, version=canary.version, due=b.now + b.plan.abort_scale_down_delay
    )
    replicas = dict(b.status.replicas)
    replicas[stable.color] = b.plan.replicas
    b.update(
        weights={stable.color: 100, canary.color: 0},
        replicas=replicas,
        teardowns=[t for t in b.status.teardowns if t.color != canary.color] + [teardown],
        paused_by_user=False,
    )
    b.enter(phase, reason)
    b.emit(
        EventType.FAILED if phase is Phase.FAILED else EventType.ABORTED,
        f"{reason}; all traffic back on {stable.version}",
        stable=stable.version,
        canary=canary.version,
    )


def _roll_back_promotion(b: _Builder, reason: str) -> None:
    """Abort after promotion, while the previous version still runs: swap back in one move."""
    promoted = b.stable
    previous = next(t for t in b.status.teardowns if t.color != promoted.color)
    b.update(
        stable=Revision(version=previous.version, color=previous.color),
        canary=promoted,
        previous_version=None,
        teardowns=[t for t in b.status.teardowns if t.color != previous.color],
        step_index=len(b.plan.steps),
    )
    _abort(b, f"{reason} (rolled back the promotion of {promoted.version})")


def _retry(b: _Builder, who: str) -> None:
    canary = b.canary
    replicas = dict(b.status.replicas)
    if b.plan.rolling is None and not b.plan.canary_follows_weight:
        replicas[canary.color] = b.plan.replicas
    b.update(
        step_index=0,
        step_started_at=None,
        replicas=replicas,
        teardowns=[t for t in b.status.teardowns if t.color != canary.color],
        rollout_started_at=b.now,
    )
    b.enter(Phase.PROVISIONING, f"retried {who}")
    b.emit(EventType.RETRIED, f"retry of {canary.version} {who}", version=canary.version)


def _remove_routes(b: _Builder) -> None:
    for route in b.status.header_routes:
        b.route_actions.append(RemoveHeaderRoute(name=route.name))
    if b.status.preview is not None:
        b.route_actions.append(SetPreview(color=None))
    if b.status.mirror:
        b.route_actions.append(SetMirror(color=None, percentage=0))
    b.update(header_routes=[], preview=None, mirror=0)


# --- following the spec's version --------------------------------------------------------------


def _follow_version(b: _Builder, target: str) -> None:
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
    if target == stable.version:
        if canary is not None:
            _drop_canary(b, f"spec is back on the stable version {target}")
        return
    if canary is None and status.phase in (Phase.PROVISIONING, Phase.FAILED):
        # The first deployment itself failed or is still starting: replace it in place.
        b.update(stable=Revision(version=target, color=stable.color))
        b.enter(Phase.PROVISIONING, f"first deployment of {target}")
        b.emit(EventType.ROLLOUT_STARTED, f"first deployment of {target}", version=target)
        return
    _start_rollout(b, target)


def _drop_canary(b: _Builder, reason: str) -> None:
    stable, canary = b.stable, b.canary
    _remove_routes(b)
    replicas = {stable.color: b.plan.replicas}
    b.update(
        canary=None,
        weights={stable.color: 100, canary.color: 0},
        replicas=replicas,
        teardowns=[t for t in b.status.teardowns if t.color != canary.color],
        step_index=0,
        step_started_at=None,
    )
    b.enter(Phase.COMPLETED, reason)
    b.emit(EventType.ABORTED, f"{reason}; {canary.version} removed", canary=canary.version)


def _start_rollout(b: _Builder, target: str) -> None:
    stable = b.stable
    superseded = b.status.canary
    color = other_color(stable.color)
    _remove_routes(b)
    replicas = {stable.color: b.plan.replicas}
    if b.plan.rolling is None and not b.plan.canary_follows_weight:
        replicas[color] = b.plan.replicas
    b.update(
        canary=Revision(version=target, color=color),
        weights={stable.color: 100, color: 0},
        replicas=replicas,
        teardowns=[t for t in b.status.teardowns if t.color != color],
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


# --- progress ----------------------------------------------------------------------------------


def _progress(b: _Builder) -> None:
    status = b.status
    if status.stable is None:
        return
    if status.canary is None:
        if status.phase is Phase.PROVISIONING:
            _first_deployment(b)
        return
    if status.phase in (Phase.ABORTED, Phase.FAILED, Phase.COMPLETED, Phase.SCALING_DOWN):
        return
    failure = b.observed.color(b.canary.color).failure
    if failure:
        _abort(b, f"{b.canary.version} cannot run: {failure}", Phase.FAILED)
        return
    if not _background_analysis(b):
        return
    if b.status.paused_by_user and b.status.phase is not Phase.PROMOTING:
        b.enter(Phase.PAUSED, b.status.message or "paused by a user: resume to continue")
        return
    if b.plan.rolling is not None:
        _progress_rolling(b)
        return
    if status.phase is Phase.PROVISIONING:
        needed = 0 if b.plan.canary_follows_weight else b.plan.replicas
        if not _canary_ready(b, needed, since=status.phase_since, waiting_for="provisioning"):
            return
        b.update(step_index=0, step_started_at=b.now)
        b.enter(Phase.PROGRESSING)
    for _ in range(_MAX_STEPS_PER_DECISION):
        if b.status.phase is Phase.PROMOTING or b.status.step_index >= len(b.plan.steps):
            _promote(b)
            return
        if not _run_step(b):
            return


def _first_deployment(b: _Builder) -> None:
    stable = b.stable
    state = b.observed.color(stable.color)
    if state.failure:
        b.enter(Phase.FAILED, f"{stable.version} cannot run: {state.failure}")
        b.emit(EventType.FAILED, b.status.message, version=stable.version)
        return
    if state.version == stable.version and state.ready >= b.plan.replicas:
        b.update(weights={stable.color: 100, other_color(stable.color): 0})
        b.enter(Phase.COMPLETED, f"{stable.version} is live")
        b.emit(EventType.COMPLETED, f"{stable.version} is live", version=stable.version)
        return
    _check_deadline(b, b.status.phase_since, f"{stable.version} to become ready", stable)


def _canary_ready(b: _Builder, needed: int, since: float, waiting_for: str) -> bool:
    canary = b.canary
    state = b.observed.color(canary.color)
    if needed == 0 or (state.version == canary.version and state.ready >= needed):
        return True
    ready = state.ready if state.version == canary.version else 0
    b.update(message=f"{waiting_for}: {ready}/{needed} replicas of {canary.version} ready")
    _check_deadline(b, since, f"{canary.version} to become ready", canary)
    return False


def _check_deadline(b: _Builder, since: float, what: str, revision: Revision) -> None:
    due = since + b.deadline
    if b.now >= due:
        reason = f"progress deadline ({b.deadline:g}s) exceeded waiting for {what}"
        if revision is b.status.canary:
            _abort(b, reason, Phase.FAILED)
        else:
            b.enter(Phase.FAILED, reason)
            b.emit(EventType.FAILED, reason, version=revision.version)
    else:
        b.wake(due)


def _current_step(b: _Builder) -> Step | None:
    index = b.status.step_index
    return b.plan.steps[index] if 0 <= index < len(b.plan.steps) else None


def _advance(b: _Builder, message: str = "") -> None:
    index = b.status.step_index
    b.emit(
        EventType.STEP_COMPLETED,
        f"step {index + 1}/{len(b.plan.steps)} done" + (f": {message}" if message else ""),
        step=index,
    )
    b.update(step_index=index + 1, step_started_at=b.now)
    b.enter(Phase.PROGRESSING)


def _run_step(b: _Builder) -> bool:
    """Run the current step; True when it completed and the next one may start now."""
    step = _current_step(b)
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
        if b.status.weights.get(canary.color) != weight:
            b.update(weights={canary.color: weight, stable.color: 100 - weight})
            b.emit(
                EventType.WEIGHTS_CHANGED,
                f"{canary.version} {weight}% / {stable.version} {100 - weight}%",
                weights={canary.version: weight, stable.version: 100 - weight},
            )
        _advance(b, f"{canary.version} at {weight}%")
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
        _advance(b, f"paused {duration:g}s")
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
                    _advance(b, message)
                    return True
                _abort(b, message)
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
        _advance(b, f"header route {route.name}")
        return True
    if step.analysis is not None:
        return _run_analysis(b, step.analysis)
    if step.set_mirror is not None:
        percentage = step.set_mirror.percentage
        b.route_actions.append(
            SetMirror(color=canary.color if percentage else None, percentage=percentage)
        )
        b.update(mirror=percentage)
        _advance(b, f"mirroring {percentage}% of requests to {canary.version}")
        return True
    raise AssertionError(f"unhandled step kind {step.kind}")  # the Step model rules this out


def _background_analysis(b: _Builder) -> bool:
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
    if run is None or run.started_at < (status.rollout_started_at or 0):
        try:
            run = start_run(
                template,
                variables(b.name, status, background),
                b.now,
                name=BACKGROUND_RUN,
                background=True,
            )
        except InvalidInput as exc:
            _abort(b, f"background analysis cannot start: {'; '.join(exc.problems)}", Phase.FAILED)
            return False
        b.emit(EventType.ANALYSIS_STARTED, "background analysis started")
    previous = run.phase
    observed = b.observed.background_analysis
    if observed is not None and observed.started_at == run.started_at:
        run = observed
    b.update(background_analysis=run)
    if run.failed:
        b.emit(EventType.ANALYSIS_FAILED, f"background analysis {run.phase}: {run.message}")
        _abort(b, f"background analysis {run.phase}: {run.message}")
        return False
    if run.phase is AnalysisPhase.INCONCLUSIVE and previous is not AnalysisPhase.INCONCLUSIVE:
        message = f"background analysis inconclusive ({run.message}): resume or abort"
        b.update(paused_by_user=True, message=message)
        b.emit(EventType.ANALYSIS_INCONCLUSIVE, message)
    if (due := next_due(template, run)) is not None:
        b.wake(due)
    return True


def _stop_background_analysis(b: _Builder, reason: str) -> None:
    run = b.status.background_analysis
    background = background_analysis_of(b.spec.strategy)
    if run is not None and background is not None and not run.completed:
        template = template_for(b.spec, background)
        b.update(background_analysis=terminate(template, run, b.now, reason))


def _run_analysis(b: _Builder, step: AnalysisStep) -> bool:
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
            _abort(b, f"analysis cannot start: {'; '.join(exc.problems)}", Phase.FAILED)
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
        _advance(b, "analysis passed")
        return True
    if run.failed:
        b.emit(EventType.ANALYSIS_FAILED, f"analysis {run.phase}: {run.message}", step=index)
        _abort(b, f"analysis {run.phase}: {run.message}")
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


def _canary_floor(b: _Builder) -> int:
    """Replicas a header route needs even at weight 0 (testers' requests must find one)."""
    return 1 if b.status.header_routes else 0


def _promote(b: _Builder) -> None:
    stable, canary = b.stable, b.canary
    replicas = dict(b.status.replicas)
    replicas[canary.color] = b.plan.replicas
    b.update(replicas=replicas)
    b.enter(Phase.PROMOTING, b.status.message or f"promoting {canary.version}")
    if not _canary_ready(b, b.plan.replicas, since=b.status.phase_since, waiting_for="promotion"):
        return
    _remove_routes(b)
    _stop_background_analysis(b, "the canary was promoted")
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
    b.enter(
        Phase.SCALING_DOWN,
        f"{stable.version} kept {b.plan.scale_down_delay:g}s for a fast rollback",
    )


# --- rolling update (the baseline the seed replaced) -----------------------------------------


def _progress_rolling(b: _Builder) -> None:
    rolling = b.plan.rolling
    assert rolling is not None
    stable, canary = b.stable, b.canary
    total = b.plan.replicas
    old_state = b.observed.color(stable.color)
    new_state = b.observed.color(canary.color)
    current_old = b.status.replicas.get(stable.color, 0)
    current_new = b.status.replicas.get(canary.color, 0)
    ready_old = min(old_state.ready, current_old) if old_state.version == stable.version else 0
    ready_new = min(new_state.ready, current_new) if new_state.version == canary.version else 0
    b.enter(Phase.PROGRESSING, f"{canary.version}: {ready_new}/{total} ready")
    if ready_new >= total and current_old == 0:
        b.update(
            weights={canary.color: 100, stable.color: 0},
            stable=canary,
            canary=None,
            previous_version=stable.version,
            replicas={canary.color: total},
        )
        b.enter(Phase.COMPLETED, f"{canary.version} rolled out")
        b.emit(EventType.COMPLETED, f"{canary.version} rolled out", version=canary.version)
        return
    target_new = min(total, max(current_new, total + rolling.max_surge - current_old))
    removable = max(0, ready_old + ready_new - (total - rolling.max_unavailable))
    target_old = max(0, current_old - removable)
    b.update(replicas={stable.color: target_old, canary.color: target_new})
    serving_old = min(ready_old, target_old)
    if serving_old + ready_new > 0:
        shares = apportion([serving_old, ready_new])
        b.update(weights={stable.color: shares[0], canary.color: shares[1]})
    if b.status.step_started_at is None or (target_old, target_new) != (current_old, current_new):
        b.update(step_started_at=b.now)  # the deadline measures time without progress
    _check_deadline(b, b.status.step_started_at or b.now, f"{canary.version} replicas", canary)


# --- scale-down --------------------------------------------------------------------------------


def _scale_down_when_due(b: _Builder) -> None:
    remaining = []
    for teardown in b.status.teardowns:
        if teardown.due > b.now:
            remaining.append(teardown)
            b.wake(teardown.due)
            continue
        replicas = dict(b.status.replicas)
        replicas.pop(teardown.color, None)
        b.update(replicas=replicas)
        b.emit(
            EventType.SCALED_DOWN,
            f"{teardown.version} scaled down",
            version=teardown.version,
            color=teardown.color,
        )
    b.update(teardowns=remaining)
    if not remaining and b.status.phase is Phase.SCALING_DOWN:
        b.enter(Phase.COMPLETED, f"{b.stable.version} is live")
        b.emit(EventType.COMPLETED, f"{b.stable.version} is live", version=b.stable.version)


# --- converging the world ----------------------------------------------------------------------


def _converge(b: _Builder) -> list[Action]:
    status, observed = b.status, b.observed
    grow: list[Action] = []
    shrink: list[Action] = []
    for color in COLORS:
        version = status.version_of(color)
        wanted = status.replicas.get(color, 0) if version is not None else 0
        have = observed.color(color)
        if wanted == 0 or version is None:
            if have.exists and status.weights.get(color, 0) == 0:
                shrink.append(TearDown(color=color))
            continue
        ensure = EnsureVersion(color=color, version=version, replicas=wanted)
        if have.version == version and have.desired == wanted:
            continue
        if (have.version == version and have.desired < wanted) or not have.exists:
            grow.append(ensure)
        elif status.weights.get(color, 0) == 0 or have.version == version:
            shrink.append(ensure)
    actions: list[Action] = grow
    if status.weights and observed.weights != _complete(status.weights):
        actions.append(SetWeights(weights=_complete(status.weights)))
    return [*actions, *b.route_actions, *shrink]


def _complete(weights: dict[Color, int]) -> dict[Color, int]:
    return {color: weights.get(color, 0) for color in COLORS}
