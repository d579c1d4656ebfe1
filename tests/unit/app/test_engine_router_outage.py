"""The engine tells the core when the router cannot be read (issue 8, "a dead HAProxy is never
brought back ... the progress deadline never fired"): the outage is decided on and saved, so it
shows in the status and counts against the progress deadline."""

from __future__ import annotations

from model_fakes import OutageRouter
from model_world import Clock
from strategy_world import make_rollout

from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.core.intents import IntentKind
from serinus.core.status import Phase, RolloutStatus

STRATEGY = {"blueGreenCanary": {"steps": [{"setWeight": 10}, {"pause": {}}]}}


def dead_router() -> OutageRouter:
    """A router that refuses every call while `down` (HAProxy killed)."""
    router = OutageRouter()
    router.error = "cannot talk to HAProxy: connection refused"
    return router


async def settle(engine: Engine, clock: Clock, rounds: int = 8) -> RolloutStatus:
    status = RolloutStatus()
    for _ in range(rounds):
        status = (await engine.reconcile("web")).status
        clock.now += 0.5
    return status


async def test_an_unreachable_router_is_saved_and_fails_the_rollout_past_its_deadline() -> None:
    store, clock, router = MemoryStateStore(), Clock(), dead_router()
    engine = Engine(store, router, MemoryPlatform(MemoryWorld()), clock=clock)
    rollout = make_rollout(STRATEGY)
    await operations.submit(store, rollout)
    await settle(engine, clock)
    await operations.submit(store, rollout.with_version("v2"))
    status = await settle(engine, clock)
    assert status.phase is Phase.PAUSED and router.weights == {"blue": 90, "green": 10}

    router.down = True
    result = await engine.reconcile("web")
    assert result.error == "cannot reach the router: cannot talk to HAProxy: connection refused"
    saved = await store.load("web")
    assert saved is not None and saved.router_outage is not None
    assert saved.router_outage.since == clock.now
    assert saved.message.startswith("the router is unreachable")
    assert saved.phase is Phase.PAUSED, "nothing healthy is claimed: the message says why"
    await operations.request(store, "web", IntentKind.PROMOTE, actor="ana", source="test")

    clock.now += 60  # make_rollout's progressDeadlineSeconds
    result = await engine.reconcile("web")
    assert result.error is not None
    saved = await store.load("web")
    assert saved is not None and saved.phase is Phase.FAILED
    assert "the router is unreachable for 60s" in saved.message
    assert router.weights == {"blue": 90, "green": 10}, "nothing written while it is down"
    assert [i.kind for i in await store.pending_intents("web")] == [IntentKind.PROMOTE]

    router.down = False
    result = await engine.reconcile("web")
    assert result.error is None
    assert router.weights == {"blue": 100, "green": 0}, "the abort, once the router answers"
    assert result.status.router_outage is None
    assert result.status.phase is Phase.FAILED, "the pending promote is refused, not applied"
