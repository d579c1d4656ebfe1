"""The app served by uvicorn over real HTTP: the live stream as a browser receives it, and the
embedded server the demo runs beside a rollout."""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from api_world import auth_header, next_event, seed, users

from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app.metrics import SerinusMetrics
from serinus.core.events import Event, EventType
from serinus.core.status import Phase
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.auth import AuthConfig
from serinus.entrypoints.api.server import background

pytestmark = pytest.mark.integration


async def test_the_live_stream_over_http_follows_the_store() -> None:
    store = MemoryStateStore()
    await seed(store)
    app = create_app(store, AuthConfig(users()), metrics=SerinusMetrics(), poll_seconds=0.05)
    async with background(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")
        assert (await client.get("/healthz")).text == "ok"
        refused = await client.get("/api/v1/rollouts/paused/events")
        assert refused.status_code == 401
        async with client.stream(
            "GET", "/api/v1/rollouts/paused/events", headers=auth_header("vera")
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            kind, snapshot = await next_event(lines)
            assert kind == "snapshot"
            rollout = snapshot["rollout"]
            assert isinstance(rollout, dict) and rollout["phase"] == "Paused"

            status = await store.load("paused")
            assert status is not None
            resumed = status.model_copy(
                update={"phase": Phase.PROGRESSING, "paused_by_user": False}
            )
            event = Event(type=EventType.RESUMED, message="resumed by dan", at=2000.0)
            await store.save("paused", resumed, [event], [])
            kind, update = await next_event(lines)
            assert kind == "status"
            assert update["rollout"]["phase"] == "Progressing"
            kind, events = await next_event(lines)
            assert kind == "events"
            assert [e["message"] for e in events] == ["resumed by dan"]


async def test_shutting_down_ends_open_live_streams_without_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStateStore()
    await seed(store)
    app = create_app(store, AuthConfig(users()), metrics=SerinusMetrics(), poll_seconds=0.05)
    server = background(app)
    url = await server.__aenter__()
    uvicorn_log = logging.getLogger("uvicorn")  # it does not propagate to the root logger
    uvicorn_log.addHandler(caplog.handler)
    try:
        await _stream_while_stopping(server, url)
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    assert "Shutting down" in caplog.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]  # no cancelled task, no traceback


async def _stream_while_stopping(server: AbstractAsyncContextManager[str], url: str) -> None:
    async with (
        httpx.AsyncClient(base_url=url, timeout=10) as client,
        client.stream(
            "GET", "/api/v1/rollouts/paused/events", headers=auth_header("vera")
        ) as response,
    ):
        lines = response.aiter_lines()
        assert (await next_event(lines))[0] == "snapshot"
        await server.__aexit__(None, None, None)  # the server stops while the stream is open
        assert [line async for line in lines if line.startswith("data:")] == []  # it ended
