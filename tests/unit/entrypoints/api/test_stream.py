"""The live stream: a snapshot first, then status changes and new events as the store moves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from api_world import Api

from serinus.core.events import Event, EventType
from serinus.core.status import Phase
from serinus.entrypoints.api.auth import Principal
from serinus.entrypoints.api.routes.stream import rollout_stream

VIEWER = Principal("vera", frozenset({"viewer"}))


def parse(chunk: str) -> tuple[str, Any]:
    lines = chunk.strip().split("\n")
    assert lines[0].startswith("event: ") and lines[1].startswith("data: "), chunk
    return lines[0][7:], json.loads(lines[1][6:])


async def never() -> bool:
    return False


async def test_snapshot_then_status_and_events_then_gone(api: Api) -> None:
    context = api.app.state.serinus
    context = type(context)(**{**context.__dict__, "poll_seconds": 0.01})
    stream: AsyncIterator[str] = rollout_stream(context, "judged", VIEWER, never, clock=lambda: 5.0)

    kind, first = parse(await anext(stream))
    assert kind == "snapshot" and first["at"] == 5.0
    assert first["rollout"]["phase"] == "AwaitingJudgement"
    assert first["rollout"]["weights"] == {"v1": 90, "v2": 10}
    assert [e["type"] for e in first["events"]] == ["RolloutStarted", "WeightsChanged"]

    status = await api.store.load("judged")
    assert status is not None
    moved = status.model_copy(
        update={"phase": Phase.PROGRESSING, "step_index": 2, "weights": {"blue": 0, "green": 100}}
    )
    judged = Event(type=EventType.JUDGED, message="approved by ann", at=1100.0)
    weights = Event(type=EventType.WEIGHTS_CHANGED, message="v2 100%", at=1101.0)
    await api.store.save("judged", moved, [judged, weights], [])

    kind, update = parse(await anext(stream))
    assert kind == "status"
    assert update["rollout"]["phase"] == "Progressing"
    assert update["rollout"]["weights"] == {"v1": 0, "v2": 100}
    assert update["rollout"]["judgement"] is None
    kind, events = parse(await anext(stream))
    assert kind == "events"
    assert [e["message"] for e in events] == ["approved by ann", "v2 100%"]

    await api.store.delete("judged")
    assert parse(await anext(stream)) == ("gone", {"name": "judged"})
    assert [chunk async for chunk in stream] == []


async def test_an_idle_stream_sends_keep_alive_comments_and_stops_on_disconnect(api: Api) -> None:
    context = api.app.state.serinus
    context = type(context)(**{**context.__dict__, "poll_seconds": 0.01, "heartbeat_seconds": 0.0})
    connected = [True, True]

    async def disconnected() -> bool:
        return not connected.pop() if connected else True

    stream = rollout_stream(context, "paused", VIEWER, disconnected)
    assert (await anext(stream)).startswith("event: snapshot")
    assert await anext(stream) == ": keep-alive\n\n"
    remaining = [chunk async for chunk in stream]
    assert all(chunk == ": keep-alive\n\n" for chunk in remaining)
    assert len(remaining) <= 1
