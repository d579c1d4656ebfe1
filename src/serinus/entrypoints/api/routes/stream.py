"""Server-sent events of one rollout, for the dashboard's live views.

The stream opens with a `snapshot` (the rollout in detail plus its recent events), then, polling
the store every `poll_seconds`, sends `status` (the rollout in detail, stamped with the server's
time, when its status changed) and `events` (events recorded since). A comment line keeps idle
connections open through proxies; `gone` ends the stream when the rollout is deleted, and
`signed-out` (with the reason) when the caller's token stops being accepted (it is checked again
at every poll: expired, revoked or removed from the tokens file). When the server shuts down
(`ApiContext.closing`), every stream ends at once, so shutting down never waits on them.

Polling the store (rather than hooking the engine) works whichever process drives the rollout:
in the local mode `serinus run` and `serinus serve` only share the SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from starlette.requests import Request

from serinus.core.authorization import READ
from serinus.core.errors import DependencyError
from serinus.core.events import Event
from serinus.core.status import RolloutStatus
from serinus.entrypoints.api.auth import Principal
from serinus.entrypoints.api.context import ApiContext, api_context
from serinus.entrypoints.api.query import known_query
from serinus.entrypoints.api.routes.rollouts import (
    ERRORS,
    Namespace,
    RolloutName,
    detail_grants,
    load,
)
from serinus.entrypoints.api.security import authenticated, presented_token, refusal
from serinus.entrypoints.api.views import detail, event_view

HISTORY_WINDOW = 200
log = logging.getLogger("serinus.api")

router = APIRouter(
    prefix="/api/v1/rollouts",
    tags=["live"],
    responses=ERRORS,
    dependencies=[Depends(known_query)],
)


def sse(event: str, data: Any) -> str:
    # json.dumps never emits a raw newline, so one `data:` line carries the whole payload.
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _set_within(event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


def _new_events(seen: list[Event], current: list[Event]) -> list[Event]:
    """Events in `current` after the last one already sent (matched from the end)."""
    if not seen:
        return current
    last = seen[-1]
    for index in range(len(current) - 1, -1, -1):
        if current[index] == last:
            return current[index + 1 :]
    return current  # the window moved past everything sent: send what is there


async def rollout_stream(
    context: ApiContext,
    name: str,
    caller: Principal,
    disconnected: Callable[[], Awaitable[bool]],
    clock: Callable[[], float] = time.time,
    namespace: str | None = None,
    still_accepted: Callable[[], Awaitable[str | None]] | None = None,
) -> AsyncIterator[str]:
    """`still_accepted()` says why the caller's token is no longer accepted (None: it is); when
    it cannot tell (DependencyError: the identity source failed), the stream ends and the
    client's reconnect gets that source's answer."""
    store, rollout, status = await load(context, caller, name, namespace)

    async def snapshot(status: RolloutStatus | None) -> dict[str, Any] | None:
        # Rights are asked again at every change: a revoked `get` ends the stream.
        grants = await detail_grants(context, caller, rollout, status)
        if grants.verbs is not None and READ not in grants.verbs:
            return None
        view = detail(
            rollout, status, caller, grants, context.failures_of(name), context.access.explain
        )
        return {"at": clock(), "rollout": view.model_dump(mode="json", by_alias=True)}

    events = await store.history(name, HISTORY_WINDOW)
    first = await snapshot(status)
    if first is None:
        return
    first["events"] = [event_view(e).model_dump(mode="json") for e in events]
    yield sse("snapshot", first)
    quiet_since = time.monotonic()
    while not await disconnected():
        if await _set_within(context.closing, context.poll_seconds):
            return  # the server is shutting down: end the response, the client reconnects
        try:
            reason = await still_accepted() if still_accepted is not None else None
        except DependencyError as exc:
            log.warning("live stream of %s ended: %s", name, exc)
            return
        if reason is not None:
            yield sse("signed-out", {"detail": reason})
            return
        current_spec = await store.get_spec(name)
        if current_spec is None:
            yield sse("gone", {"name": name})
            return
        rollout = current_spec
        latest = await store.load(name)
        if latest != status:
            status = latest
            view = await snapshot(status)
            if view is None:
                yield sse("gone", {"name": name})
                return
            yield sse("status", view)
            quiet_since = time.monotonic()
        recent = await store.history(name, HISTORY_WINDOW)
        fresh = _new_events(events, recent)
        if fresh:
            events = recent
            yield sse("events", [event_view(e).model_dump(mode="json") for e in fresh])
            quiet_since = time.monotonic()
        if time.monotonic() - quiet_since >= context.heartbeat_seconds:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()


@router.get(
    "/{name}/events",
    summary="Live status and events (text/event-stream)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An SSE stream."}},
)
async def events(
    name: RolloutName,
    request: Request,
    caller: Principal = Depends(authenticated),
    context: ApiContext = Depends(api_context),
    namespace: Namespace = None,
) -> StreamingResponse:
    await load(context, caller, name, namespace)  # a missing rollout is a 404, not a stream
    token = presented_token(request)

    async def still_accepted() -> str | None:
        outcome = await context.access.authenticate(token)
        if isinstance(outcome, Principal) and outcome.name == caller.name:
            return None
        return refusal(None if isinstance(outcome, Principal) else outcome, context, request)

    stream = rollout_stream(
        context,
        name,
        caller,
        request.is_disconnected,
        namespace=namespace,
        still_accepted=still_accepted,
    )
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
