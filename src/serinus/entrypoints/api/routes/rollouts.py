"""Reading rollouts: list, detail, history, audit and analysis results (role: viewer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from serinus.core.errors import NotFound
from serinus.core.spec import Rollout
from serinus.core.spec_base import DNS_LABEL
from serinus.core.status import RolloutStatus
from serinus.entrypoints.api.auth import Principal, Role
from serinus.entrypoints.api.context import ApiContext, api_context
from serinus.entrypoints.api.models import (
    AnalysisView,
    AuditEntry,
    ErrorResponse,
    EventView,
    RolloutDetail,
    RolloutSummary,
)
from serinus.entrypoints.api.security import require
from serinus.entrypoints.api.views import analysis, audit_entry, detail, event_view, summary

RolloutName = Annotated[
    str, Path(pattern=DNS_LABEL, max_length=53, description="The rollout's metadata.name.")
]
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "Missing or invalid bearer token."},
    403: {"model": ErrorResponse, "description": "The caller lacks the role named."},
    404: {"model": ErrorResponse, "description": "No such rollout."},
    422: {"model": ErrorResponse, "description": "Invalid input; the message names the field."},
    429: {"model": ErrorResponse, "description": "Too many invalid tokens from this address."},
    503: {"model": ErrorResponse, "description": "A dependency (the store) failed."},
}

router = APIRouter(prefix="/api/v1/rollouts", tags=["rollouts"], responses=ERRORS)
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Context = Annotated[ApiContext, Depends(api_context)]


async def load(context: ApiContext, name: str) -> tuple[Rollout, RolloutStatus | None]:
    rollout = await context.store.get_spec(name)
    if rollout is None:
        raise NotFound(f"rollout {name!r} not found")
    return rollout, await context.store.load(name)


@router.get("", response_model=list[RolloutSummary], summary="List rollouts")
async def list_rollouts(caller: Viewer, context: Context) -> list[RolloutSummary]:
    found = []
    for name in await context.store.names():
        rollout = await context.store.get_spec(name)
        if rollout is not None:  # deleted between names() and here
            found.append(summary(rollout, await context.store.load(name)))
    return found


@router.get("/{name}", response_model=RolloutDetail, summary="A rollout in detail")
async def get_rollout(name: RolloutName, caller: Viewer, context: Context) -> RolloutDetail:
    rollout, status = await load(context, name)
    return detail(rollout, status, caller, context.failures_of(name))


@router.get("/{name}/history", response_model=list[EventView], summary="Events, oldest first")
async def history(
    name: RolloutName,
    caller: Viewer,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[EventView]:
    await load(context, name)
    return [event_view(event) for event in await context.store.history(name, limit)]


@router.get("/{name}/audit", response_model=list[AuditEntry], summary="Operations people asked for")
async def audit(
    name: RolloutName,
    caller: Viewer,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    await load(context, name)
    return [audit_entry(intent) for intent in await context.store.intents(name, limit)]


@router.get("/{name}/analysis", response_model=AnalysisView, summary="Analysis results")
async def analysis_results(name: RolloutName, caller: Viewer, context: Context) -> AnalysisView:
    _, status = await load(context, name)
    return analysis(status, await context.store.history(name, 1000))
