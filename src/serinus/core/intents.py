"""Operations people ask for (promote, abort, judge, ...), recorded before the engine acts on them.

An intent is also the audit record of the operation: who asked, when, from where, with what input
and comment, and what came of it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from serinus.core.status import Phase, RolloutStatus


class IntentKind(StrEnum):
    PROMOTE = "promote"
    PROMOTE_FULL = "promote-full"
    ABORT = "abort"
    RETRY = "retry"
    PAUSE = "pause"
    RESUME = "resume"
    JUDGE = "judge"
    UNDO = "undo"


class Grants(BaseModel):
    """What the caller was found allowed to do when the operation was requested.

    Recorded on the intent so the engine can check the operation again when it consumes it (the
    rollout may have moved on). `verbs` are operation verbs (`promote`, `judge`, ...); `roles`
    the judgement roles (`requiredRoles`) the caller holds. None means unlimited: there is no
    role system (the local CLI), or, for `verbs`, a writer of the Rollout's status.
    """

    model_config = ConfigDict(frozen=True)

    verbs: tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None


UNRESTRICTED = Grants()
# A client that wrote the intent into the Rollout's status itself: Kubernetes let it patch the
# status, which allows every plain operation, but no judgement role was ever checked.
STATUS_WRITER = Grants(verbs=None, roles=())


class Intent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int = 0
    kind: IntentKind
    actor: str = "anonymous"
    source: str = "cli"
    at: float = 0.0
    approve: bool | None = None  # judge only
    inputs: dict[str, str] = Field(default_factory=dict)
    comment: str = ""
    # What the caller saw (judge, promote): the engine refuses the intent if the rollout has
    # moved to another revision or step since. None: not bound (intents from older versions).
    revision: int | None = None
    step: int | None = None
    grants: Grants = UNRESTRICTED
    groups: tuple[str, ...] = ()  # the authenticated caller's groups (Kubernetes), for the audit
    proof: str = ""  # the operator API's seal (HMAC) over the intent; see core.authorization
    outcome: str | None = None  # filled once the engine has acted on it


ACTIVE = frozenset({Phase.PROVISIONING, Phase.PROGRESSING, Phase.PAUSED, Phase.AWAITING_JUDGEMENT})


def refusal(kind: IntentKind, status: RolloutStatus | None) -> str | None:
    """Why an operation does not apply to a rollout right now, or None when it does.

    Checked when the operation is requested (so the user hears it at once) and again by the
    engine (the phase may have moved on in between).
    """
    if status is None:
        return "the rollout has not started yet"
    phase = status.phase
    if kind is IntentKind.ABORT:
        if phase in ACTIVE or phase is Phase.PROMOTING:
            return None
        if phase is Phase.SCALING_DOWN and status.teardowns:
            return None  # the previous version still runs: roll the promotion back
        return f"nothing to abort: the rollout is {phase}"
    if kind is IntentKind.RETRY:
        if phase in (Phase.ABORTED, Phase.FAILED) and status.canary is not None:
            return None
        return f"retry applies to an aborted or failed rollout, not one that is {phase}"
    if kind is IntentKind.UNDO:
        if status.previous_version is None:
            return "there is no previous version to roll back to"
        return None
    if kind is IntentKind.JUDGE:
        if phase is Phase.AWAITING_JUDGEMENT:
            return None
        return f"no judgement is pending: the rollout is {phase}"
    if phase not in ACTIVE:
        return f"{kind} applies to a rollout in progress, not one that is {phase}"
    if kind is IntentKind.PAUSE and status.paused_by_user:
        return "the rollout is already paused"
    if kind is IntentKind.RESUME and not status.paused_by_user:
        return "the rollout is not paused by a user"
    if kind in (IntentKind.PROMOTE, IntentKind.PROMOTE_FULL) and status.canary is None:
        return "nothing to promote: no new version is being rolled out"  # a first deployment
    if kind is IntentKind.PROMOTE and phase is Phase.AWAITING_JUDGEMENT:
        return "a judgement is pending: use judge (or promote --full to skip every step)"
    return None


def describe(intent: Intent) -> dict[str, Any]:
    return intent.model_dump(mode="json")
