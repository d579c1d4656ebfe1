"""Reading rollouts: list, detail, history, audit and analysis results (verb `get`).

A caller sees a rollout only if their Access grants `get` on it (the tokens file's `viewer`
role, or RBAC in the cluster); the list holds only those.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from serinus.core.authorization import READ, VERBS, Needs, needs
from serinus.core.errors import NotFound, PermissionDenied
from serinus.core.intents import Grants, IntentKind
from serinus.core.ports import StateStore
from serinus.core.spec import Rollout
from serinus.core.spec_base import DNS_LABEL
from serinus.core.status import RolloutStatus
from serinus.core.strategy.plan import plan_for
from serinus.entrypoints.api.access import may_read
from serinus.entrypoints.api.auth import Principal
from serinus.entrypoints.api.context import ApiContext, api_context
from serinus.entrypoints.api.models import (
    AnalysisView,
    AuditEntry,
    ErrorResponse,
    EventView,
    RolloutDetail,
    RolloutSummary,
)
from serinus.entrypoints.api.query import known_query
from serinus.entrypoints.api.security import authenticated
from serinus.entrypoints.api.views import analysis, audit_entry, detail, event_view, summary

RolloutName = Annotated[
    str, Path(pattern=DNS_LABEL, max_length=53, description="The rollout's metadata.name.")
]
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "Missing or invalid bearer token."},
    403: {
        "model": ErrorResponse,
        "description": "The caller lacks the permission named (a verb, a judgement role).",
    },
    404: {"model": ErrorResponse, "description": "No such rollout."},
    422: {"model": ErrorResponse, "description": "Invalid input; the message names the field."},
    429: {"model": ErrorResponse, "description": "Too many invalid tokens from this address."},
    503: {"model": ErrorResponse, "description": "A dependency (the store) failed."},
}

router = APIRouter(
    prefix="/api/v1/rollouts",
    tags=["rollouts"],
    responses=ERRORS,
    dependencies=[Depends(known_query)],
)
Viewer = Annotated[Principal, Depends(authenticated)]
Context = Annotated[ApiContext, Depends(api_context)]
Namespace = Annotated[
    str | None,
    Query(
        pattern=DNS_LABEL,
        max_length=63,
        description="The rollout's namespace; default: the API's (the one it was started for).",
    ),
]


async def load(
    context: ApiContext, caller: Principal, name: str, namespace: str | None = None
) -> tuple[StateStore, Rollout, RolloutStatus | None]:
    """The namespace's store, the rollout and its status, if the caller may `get` it."""
    store = context.directory.store(namespace)
    rollout = await store.get_spec(name)
    if rollout is None:
        where = f" in namespace {namespace!r}" if namespace else ""
        raise NotFound(f"rollout {name!r} not found{where}")
    if not await may_read(context.access, caller, rollout):
        raise PermissionDenied(f"reading rollout {name!r} needs permission to {READ}")
    return store, rollout, await store.load(name)


async def detail_grants(
    context: ApiContext, caller: Principal, rollout: Rollout, status: RolloutStatus | None
) -> Grants:
    """What the caller holds of everything the rollout's page may offer: every verb, and the
    roles of every judgement a full promotion would skip."""
    ahead = needs(IntentKind.PROMOTE_FULL, plan_for(rollout.spec), status)
    return await context.access.grants(caller, rollout, Needs(verbs=VERBS, gates=ahead.gates))


@router.get("", response_model=list[RolloutSummary], summary="List rollouts")
async def list_rollouts(
    caller: Viewer, context: Context, namespace: Namespace = None
) -> list[RolloutSummary]:
    """The rollouts the caller may `get`, in every namespace the API shows (or the one named)."""
    found = []
    chosen = [namespace] if namespace else await context.directory.namespaces()
    for where in chosen:
        store = context.directory.store(where)
        # One question for the namespace; per rollout only if that is refused (resourceNames).
        whole = await context.access.may_read_namespace(caller, where)
        for name in await store.names():
            rollout = await store.get_spec(name)
            if rollout is None:  # deleted between names() and here
                continue
            if whole or await may_read(context.access, caller, rollout):
                found.append(summary(rollout, await store.load(name)))
    return found


@router.get("/{name}", response_model=RolloutDetail, summary="A rollout in detail")
async def get_rollout(
    name: RolloutName, caller: Viewer, context: Context, namespace: Namespace = None
) -> RolloutDetail:
    _, rollout, status = await load(context, caller, name, namespace)
    grants = await detail_grants(context, caller, rollout, status)
    return detail(
        rollout, status, caller, grants, context.failures_of(name), context.access.explain
    )


@router.get("/{name}/history", response_model=list[EventView], summary="Events, oldest first")
async def history(
    name: RolloutName,
    caller: Viewer,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    namespace: Namespace = None,
) -> list[EventView]:
    store, _, _ = await load(context, caller, name, namespace)
    return [event_view(event) for event in await store.history(name, limit)]


@router.get("/{name}/audit", response_model=list[AuditEntry], summary="Operations people asked for")
async def audit(
    name: RolloutName,
    caller: Viewer,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    namespace: Namespace = None,
) -> list[AuditEntry]:
    store, _, _ = await load(context, caller, name, namespace)
    return [audit_entry(intent) for intent in await store.intents(name, limit)]


@router.get("/{name}/analysis", response_model=AnalysisView, summary="Analysis results")
async def analysis_results(
    name: RolloutName, caller: Viewer, context: Context, namespace: Namespace = None
) -> AnalysisView:
    store, rollout, status = await load(context, caller, name, namespace)
    return analysis(status, await store.history(name, 1000), rollout)
