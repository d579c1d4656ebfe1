"""Operations people request: checked, recorded as intents (the audit trail), then acted on.

The CLI, the REST API, the dashboard and the operator's kubectl plugin all call these functions,
so a promote means the same thing wherever it comes from.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from serinus.core.authorization import Denial, Needs, binding_conflict, denial, needs, sealed
from serinus.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from serinus.core.intents import UNRESTRICTED, Grants, Intent, IntentKind, refusal
from serinus.core.ports import StateStore
from serinus.core.spec import Judgement, Rollout
from serinus.core.strategy.plan import plan_for

# Decisions bound to the rollout as the caller saw it (see `request`).
BOUND = frozenset({IntentKind.JUDGE, IntentKind.PROMOTE, IntentKind.PROMOTE_FULL})


async def submit(store: StateStore, rollout: Rollout) -> bool:
    """Record the desired spec; True when it asks for a version other than the one recorded."""
    current = await store.get_spec(rollout.name)
    await store.submit(rollout)
    return current is None or current.spec.version != rollout.spec.version


class Authority(Protocol):
    """What a caller may do on a rollout: the API's role system, or Kubernetes RBAC.

    Asked only about what the operation needs (`needs.verbs`, `needs.roles`); the answer is
    recorded on the intent, so the engine can check the operation again when it acts on it.
    """

    async def grants(self, rollout: Rollout, needs: Needs) -> Grants: ...

    def explain(self, denied: Denial) -> str:
        """How the caller would get what they lack (appended to the refusal)."""
        ...


async def request(
    store: StateStore,
    name: str,
    kind: IntentKind,
    *,
    actor: str,
    source: str,
    approve: bool | None = None,
    inputs: Mapping[str, str] | None = None,
    comment: str = "",
    authority: Authority | None = None,
    revision: int | None = None,
    step: int | None = None,
    groups: Sequence[str] = (),
    key: bytes | None = None,
) -> Intent:
    """Check an operation and record it; the engine acts on it at its next reconcile.

    `authority` says what the caller may do; None means there is no role system (the local
    CLI: whoever can write the state directory may do anything). Every source goes through the
    one rule of `core.authorization`: an operation that passes a judgement needs its roles.

    `revision` and `step` are what the caller saw: if the rollout has moved on, the operation
    is refused (Conflict) with what changed. Without them, a judge or promote is bound to the
    rollout as it is now, so the engine never applies it to a later judgement. `key` (the
    operator's) seals the intent, so the engine trusts its grants.
    """
    rollout = await store.get_spec(name)
    if rollout is None:
        raise NotFound(f"rollout {name!r} not found")
    status = await store.load(name)
    reason = refusal(kind, status) or binding_conflict(kind, revision, step, status)
    if reason is not None:
        raise Conflict(f"cannot {kind} {name}: {reason}")
    assert status is not None  # refusal() turns a rollout that never started down
    plan = plan_for(rollout.spec)
    required = needs(kind, plan, status)
    grants = UNRESTRICTED if authority is None else await authority.grants(rollout, required)
    denied = denial(kind, required, grants, actor)
    if denied is not None:
        hint = authority.explain(denied) if authority is not None else ""
        raise PermissionDenied(denied.message + hint)
    clean_inputs = dict(inputs or {})
    if kind is IntentKind.JUDGE:
        if approve is None:
            raise InvalidInput(["approve: say whether the judgement approves or rejects"], "judge")
        judgement = plan.steps[status.step_index].judgement
        if judgement is not None:  # None: an inconclusive analysis step waits for a person
            _check_inputs(judgement, clean_inputs, approve)
    if kind in BOUND:
        revision = status.revision if revision is None else revision
        if step is None and kind is not IntentKind.PROMOTE_FULL:
            step = status.step_index  # a full promotion may start from any step
    if kind is IntentKind.UNDO:
        assert status.previous_version is not None
        await store.submit(rollout.with_version(status.previous_version))
    intent = Intent(
        kind=kind,
        actor=actor,
        source=source,
        at=time.time(),
        approve=approve,
        inputs=clean_inputs,
        comment=comment,
        revision=revision,
        step=step,
        grants=grants,
        groups=tuple(groups),
    )
    return await store.record_intent(name, sealed(intent, key) if key else intent)


def _check_inputs(judgement: Judgement, inputs: dict[str, str], approve: bool) -> None:
    known = {item.name: item for item in judgement.inputs}
    problems = [
        f"inputs.{name}: not an input of this judgement" for name in inputs if name not in known
    ]
    for item in judgement.inputs:
        value = inputs.get(item.name)
        if value is None:
            if item.required and approve:
                problems.append(f"inputs.{item.name}: required to approve")
        elif item.options and value not in item.options:
            problems.append(f"inputs.{item.name}: {value!r} is not one of {item.options}")
    if problems:
        raise InvalidInput(problems, "judgement")
