"""Operations people request: checked, recorded as intents (the audit trail), then acted on.

The CLI, the REST API, the dashboard and the operator's kubectl plugin all call these functions,
so a promote means the same thing wherever it comes from.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from serinus.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from serinus.core.intents import Intent, IntentKind, refusal
from serinus.core.ports import StateStore
from serinus.core.spec import Judgement, Rollout
from serinus.core.strategy.plan import plan_for


async def submit(store: StateStore, rollout: Rollout) -> bool:
    """Record the desired spec; True when it asks for a version other than the one recorded."""
    current = await store.get_spec(rollout.name)
    await store.submit(rollout)
    return current is None or current.spec.version != rollout.spec.version


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
    roles: frozenset[str] | None = None,
) -> Intent:
    """Check an operation and record it; the engine acts on it at its next reconcile.

    `roles` are the caller's roles where a role system applies (the API); None means there is
    none (the local CLI: whoever can write the state directory may do anything). A judgement
    step with `requiredRoles` can then only be decided by someone holding one of them.
    """
    rollout = await store.get_spec(name)
    if rollout is None:
        raise NotFound(f"rollout {name!r} not found")
    status = await store.load(name)
    reason = refusal(kind, status)
    if reason is not None:
        raise Conflict(f"cannot {kind} {name}: {reason}")
    clean_inputs = dict(inputs or {})
    if kind is IntentKind.JUDGE:
        if approve is None:
            raise InvalidInput(["approve: say whether the judgement approves or rejects"], "judge")
        assert status is not None  # refusal() returned None
        judgement = plan_for(rollout.spec).steps[status.step_index].judgement
        if judgement is not None:  # None: an inconclusive analysis step waits for a person
            _check_roles(judgement, roles, actor)
            _check_inputs(judgement, clean_inputs, approve)
    if kind is IntentKind.UNDO:
        assert status is not None and status.previous_version is not None
        await store.submit(rollout.with_version(status.previous_version))
    intent = Intent(
        kind=kind,
        actor=actor,
        source=source,
        at=time.time(),
        approve=approve,
        inputs=clean_inputs,
        comment=comment,
    )
    return await store.record_intent(name, intent)


def _check_roles(judgement: Judgement, roles: frozenset[str] | None, actor: str) -> None:
    required = judgement.required_roles
    if roles is None or not required or roles & set(required):
        return
    held = ", ".join(sorted(roles)) or "none"
    raise PermissionDenied(
        f"this judgement needs one of the roles {', '.join(required)}; {actor} has: {held}"
    )


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
