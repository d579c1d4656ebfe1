"""Operations on a rollout through `app.operations`, the same code the CLI calls.

Each is recorded as an intent (the audit record: caller and groups, source `api`, comment,
inputs) and answered 202: the engine driving the rollout acts on it at its next reconcile.
What the caller may do is decided by the one rule in `core.authorization` (403 naming what is
missing), over the rights the API's Access reports; a judge (and a promote that says so) is
bound to the revision and step the caller saw (409 saying what changed).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, status

from serinus.app import operations
from serinus.core.intents import IntentKind
from serinus.entrypoints.api.access import CallerAuthority
from serinus.entrypoints.api.auth import Principal
from serinus.entrypoints.api.context import ApiContext, api_context
from serinus.entrypoints.api.models import (
    AuditEntry,
    ErrorResponse,
    JudgeRequest,
    OperationRequest,
    PromoteRequest,
)
from serinus.entrypoints.api.query import known_query
from serinus.entrypoints.api.routes.rollouts import ERRORS, Namespace, RolloutName
from serinus.entrypoints.api.security import authenticated
from serinus.entrypoints.api.views import audit_entry

SOURCE = "api"
RESPONSES: dict[int | str, dict[str, object]] = {
    **ERRORS,
    409: {
        "model": ErrorResponse,
        "description": "The operation does not apply right now, or the rollout has moved on "
        "from the revision and step the decision was made on (the message says what changed).",
    },
}

router = APIRouter(
    prefix="/api/v1/rollouts",
    tags=["operations"],
    responses=RESPONSES,
    dependencies=[Depends(known_query)],
)
Context = Annotated[ApiContext, Depends(api_context)]
Caller = Annotated[Principal, Depends(authenticated)]
ACCEPTED = status.HTTP_202_ACCEPTED


async def _record(
    context: ApiContext,
    name: str,
    kind: IntentKind,
    caller: Principal,
    comment: str,
    *,
    approve: bool | None = None,
    inputs: dict[str, str] | None = None,
    revision: int | None = None,
    step: int | None = None,
    namespace: str | None = None,
) -> AuditEntry:
    intent = await operations.request(
        context.directory.store(namespace),
        name,
        kind,
        actor=caller.name,
        source=SOURCE,
        approve=approve,
        inputs=inputs,
        comment=comment,
        authority=CallerAuthority(context.access, caller),
        revision=revision,
        step=step,
        groups=caller.groups,
        key=context.intent_key,
    )
    return audit_entry(intent)


@router.post(
    "/{name}/promote", summary="End the current pause, or promote at once", status_code=ACCEPTED
)
async def promote(
    name: RolloutName,
    caller: Caller,
    context: Context,
    body: Annotated[PromoteRequest, Body(default_factory=PromoteRequest)],
    namespace: Namespace = None,
) -> AuditEntry:
    kind = IntentKind.PROMOTE_FULL if body.full else IntentKind.PROMOTE
    return await _record(
        context,
        name,
        kind,
        caller,
        body.comment,
        revision=body.revision,
        step=body.step,
        namespace=namespace,
    )


Plain = Annotated[OperationRequest, Body(default_factory=OperationRequest)]


@router.post("/{name}/abort", summary="All traffic back to stable at once", status_code=ACCEPTED)
async def abort(
    name: RolloutName, caller: Caller, context: Context, body: Plain, namespace: Namespace = None
) -> AuditEntry:
    return await _record(context, name, IntentKind.ABORT, caller, body.comment, namespace=namespace)


@router.post(
    "/{name}/retry", summary="Run an aborted or failed rollout again", status_code=ACCEPTED
)
async def retry(
    name: RolloutName, caller: Caller, context: Context, body: Plain, namespace: Namespace = None
) -> AuditEntry:
    return await _record(context, name, IntentKind.RETRY, caller, body.comment, namespace=namespace)


@router.post("/{name}/pause", summary="Hold the rollout at its step", status_code=ACCEPTED)
async def pause(
    name: RolloutName, caller: Caller, context: Context, body: Plain, namespace: Namespace = None
) -> AuditEntry:
    return await _record(context, name, IntentKind.PAUSE, caller, body.comment, namespace=namespace)


@router.post("/{name}/resume", summary="Continue a rollout a user paused", status_code=ACCEPTED)
async def resume(
    name: RolloutName, caller: Caller, context: Context, body: Plain, namespace: Namespace = None
) -> AuditEntry:
    return await _record(
        context, name, IntentKind.RESUME, caller, body.comment, namespace=namespace
    )


@router.post("/{name}/undo", summary="Roll the previous version out again", status_code=ACCEPTED)
async def undo(
    name: RolloutName, caller: Caller, context: Context, body: Plain, namespace: Namespace = None
) -> AuditEntry:
    return await _record(context, name, IntentKind.UNDO, caller, body.comment, namespace=namespace)


@router.post("/{name}/judge", summary="Decide the pending judgement", status_code=ACCEPTED)
async def judge(
    name: RolloutName,
    caller: Caller,
    context: Context,
    body: JudgeRequest,
    namespace: Namespace = None,
) -> AuditEntry:
    return await _record(
        context,
        name,
        IntentKind.JUDGE,
        caller,
        body.comment,
        approve=body.approve,
        inputs=body.inputs,
        revision=body.revision,
        step=body.step,
        namespace=namespace,
    )
