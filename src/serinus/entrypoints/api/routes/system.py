"""Health, serinus's own metrics, and who the caller is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response

from serinus.app.metrics import CONTENT_TYPE
from serinus.entrypoints.api.auth import Principal
from serinus.entrypoints.api.context import ApiContext, api_context
from serinus.entrypoints.api.models import ErrorResponse, Whoami
from serinus.entrypoints.api.security import authenticated

router = APIRouter(tags=["system"])
Context = Annotated[ApiContext, Depends(api_context)]


@router.get("/healthz", response_class=PlainTextResponse, summary="Liveness")
async def healthz() -> str:
    return "ok"


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def metrics(context: Context) -> Response:
    # The gauges come from the store at scrape time: in the local mode another process (the
    # `serinus run` driver) moves the rollouts.
    names = await context.store.names()
    for name in names:
        context.metrics.observe_status(name, await context.store.load(name))
    for gone in context.metrics.known_rollouts() - set(names):
        context.metrics.forget(gone)
    return Response(context.metrics.exposition(), media_type=CONTENT_TYPE)


@router.get(
    "/api/v1/whoami",
    response_model=Whoami,
    summary="The caller's name and roles",
    responses={401: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
)
async def whoami(caller: Annotated[Principal, Depends(authenticated)]) -> Whoami:
    return Whoami(name=caller.name, roles=sorted(caller.roles), groups=list(caller.groups))
