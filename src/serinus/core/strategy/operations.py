"""Acting on the operations people asked for: abort, retry, pause/resume, promote, judge.

Each intent is checked again here (the rollout may have moved on since it was requested) and
consumed with its outcome; undo changed the spec's version, and is acted on here only when an
open rollback window keeps that version (else following the spec rolls it out).
"""

from __future__ import annotations

from serinus.core.analysis.run import AnalysisPhase
from serinus.core.authorization import admission
from serinus.core.events import EventType
from serinus.core.intents import Intent, IntentKind
from serinus.core.status import Phase
from serinus.core.strategy.builder import Builder
from serinus.core.strategy.stopping import abort, roll_back_promotion, stop_step_analysis
from serinus.core.strategy.window import roll_back_within_window


def apply_intent(b: Builder, intent: Intent) -> None:
    # Phase, binding to what was seen, and the one authorization rule (core.authorization).
    reason = admission(intent, b.plan, b.status)
    if reason is not None:
        reject(b, intent, reason)
        return
    who = f"by {intent.actor}"
    if intent.kind is IntentKind.ABORT:
        reason = f"aborted {who}" + (f": {intent.comment}" if intent.comment else "")
        if b.status.phase is Phase.SCALING_DOWN:
            roll_back_promotion(b, reason)
        else:
            abort(b, reason)
    elif intent.kind is IntentKind.RETRY:
        _retry(b, who)
    elif intent.kind is IntentKind.PAUSE:
        b.update(paused_by_user=True)
        b.emit(EventType.PAUSED, f"paused {who}", actor=intent.actor)
    elif intent.kind is IntentKind.RESUME:
        _resume(b, who, intent.actor)
    elif intent.kind is IntentKind.PROMOTE:
        if not _at_pause(b):
            reject(b, intent, "the rollout is not at a pause step")
            return
        b.advance(f"pause ended {who}")
    elif intent.kind is IntentKind.PROMOTE_FULL:
        stop_step_analysis(b, f"full promotion {who}")
        b.update(step_index=len(b.plan.steps), paused_by_user=False)
        b.enter(Phase.PROMOTING, f"full promotion {who}")
        b.emit(EventType.PROMOTED, f"full promotion {who}: skipping the remaining steps", full=True)
    elif intent.kind is IntentKind.JUDGE:
        _judge(b, intent)
    elif intent.kind is IntentKind.UNDO and _within_window(b):
        b.consume(intent, roll_back_within_window(b, who))
        return
    b.consume(intent, "done")


def reject(b: Builder, intent: Intent, reason: str) -> None:
    b.consume(intent, f"rejected: {reason}")
    b.emit(
        EventType.OPERATION_REJECTED,
        f"{intent.kind} by {intent.actor} rejected: {reason}",
        operation=intent.kind.value,
        actor=intent.actor,
    )


def _resume(b: Builder, who: str, actor: str) -> None:
    b.update(paused_by_user=False)
    run = b.status.background_analysis
    if run is not None and run.phase is AnalysisPhase.INCONCLUSIVE:
        # An inconclusive background analysis paused the rollout: guard again with a new run.
        b.update(background_analysis=None)
    b.enter(Phase.PROVISIONING if b.status.step_started_at is None else Phase.PROGRESSING)
    b.emit(EventType.RESUMED, f"resumed {who}", actor=actor)


def _within_window(b: Builder) -> bool:
    """An undo the open rollback window serves: the spec went back to the kept version (else
    undo is a new rollout of the previous version, which following the spec starts)."""
    window = b.status.rollback_window
    return window is not None and b.status.canary is None and b.spec.version == window.version


def _at_pause(b: Builder) -> bool:
    step = b.current_step()
    return (
        b.status.phase is Phase.PAUSED
        and not b.status.paused_by_user
        and step is not None
        and step.pause is not None
    )


def _judge(b: Builder, intent: Intent) -> None:
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
        b.advance(detail)
    else:
        abort(b, detail)


def _retry(b: Builder, who: str) -> None:
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
