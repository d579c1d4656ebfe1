"""Rollouts as the API shows them: summaries, step timelines, the pending judgement, analyses.

Pure functions of the spec, the status and the caller; nothing here reads the store. The spec
itself is never returned whole: a workload's environment may hold credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from serinus.core.authorization import Denial, denial, needs
from serinus.core.events import Event
from serinus.core.intents import Grants, Intent, IntentKind, refusal
from serinus.core.spec import Judgement, Rollout, Step
from serinus.core.status import COLORS, Phase, RolloutStatus
from serinus.core.strategy.analysis_step import BACKGROUND_RUN
from serinus.core.strategy.plan import plan_for
from serinus.entrypoints.api.analysis_specs import metric_specs
from serinus.entrypoints.api.auth import Principal
from serinus.entrypoints.api.markdown import render_markdown
from serinus.entrypoints.api.models import (
    AnalysisView,
    AuditEntry,
    ColorView,
    EventView,
    JudgementInputView,
    JudgementView,
    RolloutDetail,
    RolloutSummary,
    StepPosition,
    StepState,
    StepView,
)
from serinus.entrypoints.api.standby import preview, rollback_window
from serinus.entrypoints.describing import spec_named

# How a caller would get what they lack: the API's Access says (a role, or an RBAC verb).
Explain = Callable[[Denial], str]


def template_variables(rollout: Rollout, status: RolloutStatus | None) -> dict[str, str]:
    """What `{{ ... }}` in judgement instructions may name."""
    values = {
        "rollout.name": rollout.name,
        "rollout.namespace": rollout.metadata.namespace,
        "rollout.version": rollout.spec.version,
    }
    if status is not None:
        for role, revision in (("canary", status.canary), ("stable", status.stable)):
            if revision is not None:
                values[f"{role}.version"] = revision.version
                values[f"{role}.color"] = revision.color
    return values


def _colors(status: RolloutStatus | None) -> list[ColorView]:
    if status is None:
        return []
    views = []
    for color in COLORS:
        version = status.version_of(color)
        if version is None:
            continue
        if status.stable is not None and status.stable.color == color:
            role = "stable"
        elif status.canary is not None and status.canary.color == color:
            role = "preview" if status.preview == color else "canary"
        elif status.rollback_window is not None and status.rollback_window.color == color:
            role = "kept"
        else:
            role = "old"
        views.append(
            ColorView(
                color=color,
                version=version,
                role=role,
                weight=status.weights.get(color, 0),
                desired=status.replicas.get(color, 0),
                ready=status.ready.get(color, 0),
            )
        )
    return views


def version_weights(status: RolloutStatus | None) -> dict[str, int]:
    if status is None:
        return {}
    weights: dict[str, int] = {}
    for color, weight in status.weights.items():
        version = status.version_of(color)
        if version is not None:
            weights[version] = weights.get(version, 0) + weight
    return weights


def summary(rollout: Rollout, status: RolloutStatus | None) -> RolloutSummary:
    return RolloutSummary(**_summary_fields(rollout, status))


def _summary_fields(rollout: Rollout, status: RolloutStatus | None) -> dict[str, Any]:
    steps = plan_for(rollout.spec).steps
    position = None
    if status is not None and status.canary is not None and steps:
        index = status.step_index
        text = spec_named(steps[index]) if index < len(steps) else f"all {len(steps)} steps done"
        position = StepPosition(index=index, total=len(steps), description=text)
    return {
        "name": rollout.name,
        "namespace": rollout.metadata.namespace,
        "version": rollout.spec.version,
        "strategy": rollout.spec.strategy.kind,
        "phase": status.phase.value if status else None,
        "message": status.message if status else "",
        "step": position,
        "weights": version_weights(status),
        "colors": _colors(status),
    }


def timeline(rollout: Rollout, status: RolloutStatus | None) -> list[StepView]:
    steps = plan_for(rollout.spec).steps
    return [_step_view(index, step, status, len(steps)) for index, step in enumerate(steps)]


def _step_state(index: int, status: RolloutStatus | None, total: int) -> StepState:
    if status is None or status.phase is Phase.PENDING:
        return "pending"
    if status.phase is Phase.COMPLETED or status.canary is None or status.step_index >= total:
        # Promoted (the canary became stable) or every step passed: nothing is left to do.
        return "done" if status.stable is not None or status.step_index >= total else "pending"
    if index < status.step_index:
        return "done"
    if index > status.step_index:
        return "pending"
    return "failed" if status.phase in (Phase.ABORTED, Phase.FAILED) else "current"


def _step_view(index: int, step: Step, status: RolloutStatus | None, total: int) -> StepView:
    state = _step_state(index, status, total)
    current = state == "current" and status is not None
    return StepView(
        index=index,
        kind=step.kind,
        description=spec_named(step),
        state=state,
        started_at=status.step_started_at if current and status is not None else None,
        pause_seconds=step.pause.duration if step.pause is not None else None,
    )


def _effects(rollout: Rollout, status: RolloutStatus) -> tuple[str, str]:
    """What approving and rejecting a judgement do, in the words the buttons show."""
    steps = plan_for(rollout.spec).steps
    after = status.step_index + 1
    canary = status.canary.version if status.canary is not None else rollout.spec.version
    if after < len(steps):
        approve = f"continue to step {after + 1} ({spec_named(steps[after])})"
    else:
        approve = f"promote {canary}: it takes all traffic"
    stable = status.stable.version if status.stable is not None else "the stable version"
    return approve, f"abort, all traffic back to {stable}"


def judgement_view(
    rollout: Rollout,
    status: RolloutStatus | None,
    caller: Principal,
    grants: Grants,
    explain: Explain | None = None,
) -> JudgementView | None:
    if status is None or status.phase is not Phase.AWAITING_JUDGEMENT:
        return None
    steps = plan_for(rollout.spec).steps
    if status.step_index >= len(steps):
        return None
    step = steps[status.step_index]
    judgement = step.judgement
    if judgement is None:
        if step.analysis is None:
            return None
        # An inconclusive analysis waits for a person: approve continues, reject aborts.
        run = status.analysis
        outcome = f": {run.message}" if run is not None and run.message else ""
        judgement = Judgement(
            instructions=f"The analysis **{', '.join(step.analysis.templates)}** was "
            f"inconclusive{outcome}.\n\nApprove to continue the rollout, reject to abort it."
        )
    kind = IntentKind.JUDGE
    denied = denial(kind, needs(kind, plan_for(rollout.spec), status), grants, caller.name)
    hint = explain(denied) if explain is not None and denied is not None else ""
    reason = None if denied is None else denied.message + hint
    approve_effect, reject_effect = _effects(rollout, status)
    return JudgementView(
        step=status.step_index,
        revision=status.revision,
        instructions=judgement.instructions,
        instructions_html=render_markdown(
            judgement.instructions, template_variables(rollout, status)
        ),
        inputs=[
            JudgementInputView(name=item.name, options=list(item.options), required=item.required)
            for item in judgement.inputs
        ],
        required_roles=list(judgement.required_roles),
        timeout_seconds=judgement.timeout,
        on_timeout=judgement.on_timeout,
        waiting_since=status.phase_since,
        step_started_at=status.step_started_at,
        approve_effect=approve_effect,
        reject_effect=reject_effect,
        can_judge=reason is None,
        cannot_judge_reason=reason,
    )


def allowed_operations(
    rollout: Rollout, status: RolloutStatus | None, caller: Principal, grants: Grants
) -> list[str]:
    """What the caller may do now, by the same rule `app.operations.request` applies."""
    plan = plan_for(rollout.spec)
    return [
        kind.value
        for kind in IntentKind
        if refusal(kind, status) is None
        and (kind is not IntentKind.PROMOTE or _at_pause(rollout, status))
        and denial(kind, needs(kind, plan, status), grants, caller.name) is None
    ]


def _at_pause(rollout: Rollout, status: RolloutStatus | None) -> bool:
    """Promote ends a pause step and nothing else: the engine refuses it anywhere else."""
    steps = plan_for(rollout.spec).steps
    return (
        status is not None
        and status.phase is Phase.PAUSED
        and not status.paused_by_user
        and status.step_index < len(steps)
        and steps[status.step_index].pause is not None
    )


def detail(
    rollout: Rollout,
    status: RolloutStatus | None,
    caller: Principal,
    grants: Grants,
    failures: Iterable[Mapping[str, Any]] = (),
    explain: Explain | None = None,
) -> RolloutDetail:
    return RolloutDetail(
        **_summary_fields(rollout, status),
        status=status.to_storage() if status else None,
        steps=timeline(rollout, status),
        judgement=judgement_view(rollout, status, caller, grants, explain),
        preview=preview(rollout, status),
        rollback_window=rollback_window(rollout, status),
        allowed_operations=allowed_operations(rollout, status, caller, grants),
        notification_failures=[dict(f) for f in failures],
    )


def event_view(event: Event) -> EventView:
    return EventView(
        type=event.type.value,
        message=event.message,
        at=event.at,
        severity=event.severity.value,
        data=event.model_dump(mode="json")["data"],
    )


def audit_entry(intent: Intent) -> AuditEntry:
    return AuditEntry(
        id=intent.id,
        kind=intent.kind.value,
        actor=intent.actor,
        groups=list(intent.groups),
        source=intent.source,
        at=intent.at,
        approve=intent.approve,
        inputs=dict(intent.inputs),
        comment=intent.comment,
        outcome=intent.outcome,
        revision=intent.revision,
        step=intent.step,
    )


# --- analyses ----------------------------------------------------------------------------------
# The analysis integration stores its runs in the status; this reads any field whose name says
# "analysis" and that holds runs (objects with a `metrics` list), so it keeps working whatever
# the field ends up being called or however many runs it holds.


def _runs_in(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value.get("metrics"), list):
            return [value]
        return [run for item in value.values() for run in _runs_in(item)]
    if isinstance(value, list):
        return [run for item in value for run in _runs_in(item)]
    return []


def analysis_runs(status: RolloutStatus | None) -> list[dict[str, Any]]:
    if status is None:
        return []
    stored = status.to_storage()
    return [
        run for key, value in stored.items() if "analys" in key.lower() for run in _runs_in(value)
    ]


def is_analysis_event(event: Event) -> bool:
    return "analys" in event.type.value.lower() or any(
        "analys" in key.lower() for key in event.data
    )


def analysis(
    status: RolloutStatus | None, events: Sequence[Event], rollout: Rollout | None = None
) -> AnalysisView:
    runs = analysis_runs(status)
    if rollout is not None:
        for run in runs:
            run["title"] = run_title(rollout, str(run.get("name", "")))
    return AnalysisView(
        runs=runs,
        events=[event_view(event) for event in events if is_analysis_event(event)],
        metrics=[] if rollout is None else metric_specs(rollout),
    )


def run_title(rollout: Rollout, name: str) -> str:
    """A run named as the timeline numbers its step (1-based): `step 2: analysis errors`."""
    if name == BACKGROUND_RUN:
        return "background analysis"
    steps = plan_for(rollout.spec).steps
    index = name.removeprefix("step-")
    if index.isdigit() and int(index) < len(steps):
        return f"step {int(index) + 1}: {spec_named(steps[int(index)])}"
    return name or "analysis"
