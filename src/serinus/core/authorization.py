"""The one authorization rule for operations on a rollout, and the binding of a decision to what
the person saw.

Pure, so the same rule runs where an operation is requested (`app.operations.request`, for the
CLI, the API, the dashboard and the operator alike) and again in the engine when it consumes the
intent (the rollout may have moved on in between).

An operation needs its verb (`promote`, `abort`, `judge`, ...). An operation that passes a gate
needs, in addition, what deciding that gate needs: the verb `judge` and, for a judgement with
`requiredRoles`, one of those roles. The gates an operation passes:
- `judge`: the pending judgement, or the inconclusive analysis waiting for a person;
- `promote --full`: the pending gate and every judgement step still ahead (it skips them all).

Intents sealed by the operator's API carry an HMAC over their content: the engine trusts the
grants recorded on an intent only when its seal verifies, so an intent written straight into a
Rollout's status (`patch rollouts/status`) cannot pass a role-gated judgement.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from serinus.core.intents import STATUS_WRITER, Grants, Intent, IntentKind, refusal
from serinus.core.status import Phase, RolloutStatus
from serinus.core.strategy.plan import Plan

JUDGE = "judge"
READ = "get"
VERB_OF: dict[IntentKind, str] = {
    IntentKind.PROMOTE: "promote",
    IntentKind.PROMOTE_FULL: "promote",
    IntentKind.ABORT: "abort",
    IntentKind.RETRY: "retry",
    IntentKind.PAUSE: "pause",
    IntentKind.RESUME: "resume",
    IntentKind.JUDGE: JUDGE,
    IntentKind.UNDO: "undo",
}
VERBS: tuple[str, ...] = (READ, *dict.fromkeys(VERB_OF.values()))
_SEALED = {"kind", "actor", "source", "at", "approve", "inputs", "comment"} | {
    "revision",
    "step",
    "grants",
    "groups",
}


@dataclass(frozen=True)
class Gate:
    """A step that needs a person's decision: a judgement, or an inconclusive analysis."""

    step: int
    roles: tuple[str, ...]  # the judgement's requiredRoles: the caller needs one of them
    analysis: bool = False

    def describe(self) -> str:
        what = "the inconclusive analysis" if self.analysis else "the judgement"
        return f"{what} at step {self.step + 1}"


@dataclass(frozen=True)
class Needs:
    """What an operation requires of its caller right now."""

    verbs: tuple[str, ...]
    gates: tuple[Gate, ...]

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role some gate could be passed with (what a role lookup must ask about)."""
        return tuple(dict.fromkeys(role for gate in self.gates for role in gate.roles))


def gates_passed(kind: IntentKind, plan: Plan, status: RolloutStatus | None) -> tuple[Gate, ...]:
    if status is None or kind not in (IntentKind.JUDGE, IntentKind.PROMOTE_FULL):
        return ()
    steps = plan.steps
    index = status.step_index
    awaiting = status.phase is Phase.AWAITING_JUDGEMENT
    found: list[Gate] = []
    if awaiting and 0 <= index < len(steps) and steps[index].analysis is not None:
        found.append(Gate(step=index, roles=(), analysis=True))
    last = index + 1 if kind is IntentKind.JUDGE else len(steps)
    for position in range(max(index, 0), min(last, len(steps))):
        judgement = steps[position].judgement
        if judgement is not None and (awaiting or kind is IntentKind.PROMOTE_FULL):
            found.append(Gate(step=position, roles=tuple(judgement.required_roles)))
    return tuple(found)


def needs(kind: IntentKind, plan: Plan, status: RolloutStatus | None) -> Needs:
    gates = gates_passed(kind, plan, status)
    verbs = [VERB_OF[kind]]
    if gates and JUDGE not in verbs:
        verbs.append(JUDGE)
    return Needs(verbs=tuple(verbs), gates=gates)


@dataclass(frozen=True)
class Denial:
    """Why a caller may not do an operation, and what they lack (for a hint on how to get it)."""

    message: str
    verbs: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # any one of them would do

    def __str__(self) -> str:
        return self.message


def denial(kind: IntentKind, required: Needs, grants: Grants, actor: str) -> Denial | None:
    """Why `actor` with `grants` may not do the operation, or None when it may."""
    if grants.verbs is not None:
        missing = tuple(verb for verb in required.verbs if verb not in grants.verbs)
        if missing:
            passing = f" (it passes {required.gates[0].describe()})" if required.gates else ""
            return Denial(
                f"{kind} needs permission to {' and '.join(missing)}{passing}; "
                f"{actor} may: {', '.join(grants.verbs) or 'nothing'}",
                verbs=missing,
            )
    if grants.roles is None:
        return None
    for gate in required.gates:
        if gate.roles and not set(gate.roles) & set(grants.roles):
            skips = "decides" if kind is IntentKind.JUDGE else "skips"
            held = ", ".join(grants.roles) or "none"
            return Denial(
                f"{kind} {skips} {gate.describe()}, which needs one of the roles "
                f"{', '.join(gate.roles)}; {actor} has: {held}",
                roles=gate.roles,
            )
    return None


def binding_conflict(
    kind: IntentKind, revision: int | None, step: int | None, status: RolloutStatus | None
) -> str | None:
    """Why a decision made on (revision, step) no longer applies, or None when it does."""
    if status is None or (revision is None and step is None):
        return None
    if (revision is None or revision == status.revision) and (
        step is None or step == status.step_index
    ):
        return None
    seen = ", ".join(
        part
        for part in (
            f"revision {revision}" if revision is not None else "",
            f"step {step + 1}" if step is not None else "",
        )
        if part
    )
    what = "the judgement you saw" if kind is IntentKind.JUDGE else "the rollout you saw"
    gone = "is no longer pending" if kind is IntentKind.JUDGE else "has moved on"
    return (
        f"{what} ({seen}) {gone}: the rollout is at revision {status.revision}, "
        f"step {status.step_index + 1} ({status.phase})"
    )


def admission(intent: Intent, plan: Plan, status: RolloutStatus | None) -> str | None:
    """Why the engine refuses an intent it is about to act on, or None when it may act.

    The same checks as when it was requested, against the rollout as it is now: the phase, the
    revision and step it was bound to, and the caller's recorded grants.
    """
    reason = refusal(intent.kind, status)
    if reason is None:
        reason = binding_conflict(intent.kind, intent.revision, intent.step, status)
    if reason is None:
        denied = denial(intent.kind, needs(intent.kind, plan, status), intent.grants, intent.actor)
        reason = None if denied is None else denied.message
    return reason


# --- seals: grants the operator's API vouches for ------------------------------------------


def seal_of(intent: Intent, key: bytes) -> str:
    """HMAC-SHA256 over what the intent asks for and who was found allowed to ask."""
    content = intent.model_dump(mode="json", include=_SEALED)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def sealed(intent: Intent, key: bytes) -> Intent:
    return intent.model_copy(update={"proof": seal_of(intent, key)})


def vouched(intent: Intent, key: bytes | None) -> Intent:
    """The intent as the engine may trust it: with no key (local mode) as recorded; with the
    operator's key, an intent whose seal does not verify keeps only a status writer's grants."""
    if key is None or (intent.proof and hmac.compare_digest(intent.proof, seal_of(intent, key))):
        return intent
    return intent.model_copy(update={"grants": STATUS_WRITER})
