"""A judgement decided through the API moves a rollout driven by the real engine (memory fakes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_world import auth_header, client_of, rollout, users

from serinus.adapters.platforms.memory import MemoryPlatform
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.app.metrics import SerinusMetrics
from serinus.core.status import Phase, RolloutStatus
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.auth import AuthConfig

STEPS = [
    {"setWeight": 10},
    {"judgement": {"instructions": "look at errors", "inputs": [{"name": "ticket"}]}},
    {"setWeight": 50},
]


class World:
    def __init__(self) -> None:
        self.now = 1000.0
        self.store = MemoryStateStore()
        self.router = MemoryRouter()
        self.engine = Engine(self.store, self.router, MemoryPlatform(), clock=lambda: self.now)

    async def run_until(
        self, done: type[object] | Phase | set[Phase], limit: int = 60
    ) -> RolloutStatus:
        wanted = done if isinstance(done, set) else {done}
        for _ in range(limit):
            result = await self.engine.reconcile("web")
            assert result.error is None, result.error
            self.now += 1.0
            if result.status.phase in wanted:
                return result.status
        raise AssertionError(f"never reached {wanted}; last {result.status}")


def seen(page: dict[str, Any]) -> dict[str, int]:
    """What the dashboard sends back with a decision: the judgement's revision and step."""
    return {"revision": page["judgement"]["revision"], "step": page["judgement"]["step"]}


@pytest.fixture
async def world() -> AsyncIterator[World]:
    world = World()
    await operations.submit(world.store, rollout("web", STEPS, version="v1"))
    await world.run_until({Phase.COMPLETED})
    await operations.submit(world.store, rollout("web", STEPS, version="v2"))
    yield world


async def test_approving_through_the_api_lets_the_engine_continue(world: World) -> None:
    waiting = await world.run_until(Phase.AWAITING_JUDGEMENT)
    assert waiting.canary is not None and waiting.weights[waiting.canary.color] == 10
    app = create_app(world.store, AuthConfig(users()), metrics=SerinusMetrics())
    async with client_of(app) as client:
        page = (await client.get("/api/v1/rollouts/web", headers=auth_header("ann"))).json()
        assert page["judgement"]["instructionsHtml"] == "<p>look at errors</p>"
        response = await client.post(
            "/api/v1/rollouts/web/judge",
            json={
                "approve": True,
                "inputs": {"ticket": "OPS-9"},
                "comment": "errors flat",
                **seen(page),
            },
            headers=auth_header("ann"),
        )
        assert response.status_code == 202, response.text
        promoted = await world.run_until({Phase.COMPLETED, Phase.SCALING_DOWN})
        assert promoted.stable is not None and promoted.stable.version == "v2"
        assert world.router.weights[waiting.canary.color] == 100
        audit = (await client.get("/api/v1/rollouts/web/audit", headers=auth_header("ann"))).json()
    [judged] = [entry for entry in audit if entry["kind"] == "judge"]
    assert judged["actor"] == "ann" and judged["source"] == "api"
    assert judged["inputs"] == {"ticket": "OPS-9"} and judged["comment"] == "errors flat"
    assert judged["outcome"] == "done"
    history = [event.message for event in await world.store.history("web")]
    judged_at = history.index("judgement approved by ann (ticket=OPS-9): errors flat")
    assert judged_at < history.index("v2 50% / v1 50%") < history.index("v2 100% / v1 0%")


async def test_rejecting_through_the_api_aborts_back_to_stable(world: World) -> None:
    await world.run_until(Phase.AWAITING_JUDGEMENT)
    app = create_app(world.store, AuthConfig(users()), metrics=SerinusMetrics())
    async with client_of(app) as client:
        page = (await client.get("/api/v1/rollouts/web", headers=auth_header("ann"))).json()
        response = await client.post(
            "/api/v1/rollouts/web/judge",
            json={"approve": False, "comment": "latency doubled", **seen(page)},
            headers=auth_header("ann"),
        )
        assert response.status_code == 202
    aborted = await world.run_until(Phase.ABORTED)
    assert aborted.stable is not None and aborted.stable.version == "v1"
    assert world.router.weights[aborted.stable.color] == 100
