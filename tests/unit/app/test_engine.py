"""The engine over the in-memory adapters: reconcile loops, analysis measured, crash-safety."""

from __future__ import annotations

from typing import Any

import pytest
from strategy_world import make_rollout

from serinus.adapters.metrics.memory import MemoryProvider
from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.core.errors import Conflict, MetricsError, RouterError
from serinus.core.intents import IntentKind
from serinus.core.spec import Rollout
from serinus.core.status import Phase, RolloutStatus

TEMPLATES = [
    {
        "name": "errors",
        "metrics": [
            {
                "name": "error-ratio",
                "count": 2,
                "interval": "1s",
                "consecutiveErrorLimit": 1,
                "successCondition": "result[0] <= 0.05",
                "provider": {"prometheus": {"address": "http://prom:9090", "query": "q"}},
            }
        ],
    }
]
STRATEGY: dict[str, Any] = {
    "blueGreenCanary": {
        "steps": [{"setWeight": 10}, {"analysis": {"templates": ["errors"]}}, {"setWeight": 100}],
        "scaleDownDelay": 0,
        "abortScaleDownDelay": 0,
    }
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def run_until_settled(engine: Engine, clock: Clock, rounds: int = 40) -> RolloutStatus:
    status = RolloutStatus()
    for _ in range(rounds):
        result = await engine.reconcile("web")
        status = result.status
        clock.now += 0.5
    return status


async def deployed(provider: MemoryProvider) -> tuple[Engine, MemoryStateStore, Clock, Rollout]:
    store = MemoryStateStore()
    clock = Clock()
    rollout = make_rollout(STRATEGY, "v1", analysisTemplates=TEMPLATES)
    engine = Engine(
        store,
        MemoryRouter(),
        MemoryPlatform(MemoryWorld()),
        clock=clock,
        providers={"prometheus": provider},
    )
    await operations.submit(store, rollout)
    assert (await run_until_settled(engine, clock, 5)).phase is Phase.COMPLETED
    await operations.submit(store, rollout.with_version("v2"))
    return engine, store, clock, rollout


async def test_a_healthy_canary_passes_measured_analysis_and_is_promoted() -> None:
    provider = MemoryProvider([[0.01], [0.02]])
    engine, _, clock, _ = await deployed(provider)
    status = await run_until_settled(engine, clock)
    assert status.phase is Phase.COMPLETED
    assert status.stable is not None and status.stable.version == "v2"
    assert status.analysis is not None and status.analysis.phase == "Successful"
    assert len(provider.calls) == 2


async def test_a_bad_canary_is_aborted_by_measured_analysis() -> None:
    engine, _, clock, _ = await deployed(MemoryProvider([[0.01], [0.3]]))
    status = await run_until_settled(engine, clock)
    assert status.phase is Phase.ABORTED
    assert status.stable is not None and status.stable.version == "v1"
    assert status.weights[status.stable.color] == 100


async def test_metrics_provider_down_never_promotes() -> None:
    down = MetricsError("Prometheus at http://prom:9090 is unreachable")
    engine, _, clock, _ = await deployed(MemoryProvider([down]))
    status = await run_until_settled(engine, clock)
    assert status.phase is Phase.ABORTED
    assert status.stable is not None and status.stable.version == "v1"
    assert "Error" in status.message or "error" in status.message


async def test_a_failing_router_keeps_the_last_consistent_status_and_the_intent() -> None:
    provider = MemoryProvider([[0.01]])
    store = MemoryStateStore()
    clock = Clock()
    router = MemoryRouter()
    engine = Engine(store, router, MemoryPlatform(MemoryWorld()), clock=clock,
                    providers={"prometheus": provider})  # fmt: skip
    rollout = make_rollout({"blueGreenCanary": {"steps": [{"setWeight": 10}, {"pause": {}}]}})
    await operations.submit(store, rollout)
    await run_until_settled(engine, clock, 5)
    await operations.submit(store, rollout.with_version("v2"))
    await run_until_settled(engine, clock, 10)
    await operations.request(store, "web", IntentKind.ABORT, actor="ana", source="test")
    router.fail_next("set_weights", RouterError("HAProxy admin socket gone"))
    result = await engine.reconcile("web")
    assert result.error is not None and "admin socket" in result.error
    saved = await store.load("web")
    assert saved is not None and saved.phase is Phase.PAUSED  # nothing half-applied persisted
    assert [i.kind for i in await store.pending_intents("web")] == [IntentKind.ABORT]
    result = await engine.reconcile("web")  # the router is back: the abort goes through
    assert result.status.phase is Phase.ABORTED
    assert await store.pending_intents("web") == []


@pytest.mark.parametrize("crash_after", range(1, 12))
async def test_a_new_engine_on_the_same_state_continues_without_provisioning_again(
    crash_after: int,
) -> None:
    world, store, router = MemoryWorld(), MemoryStateStore(), MemoryRouter()
    clock = Clock()
    steps = [{"setWeight": 10}, {"pause": {"duration": 2}}, {"setWeight": 100}]
    rollout = make_rollout({"blueGreenCanary": {"steps": steps, "scaleDownDelay": 0}})
    engine = Engine(store, router, MemoryPlatform(world), clock=clock)
    await operations.submit(store, rollout)
    await run_until_settled(engine, clock, 5)
    await operations.submit(store, rollout.with_version("v2"))
    for _ in range(crash_after):
        await engine.reconcile("web")
        clock.now += 0.5
    fresh = Engine(store, router, MemoryPlatform(world), clock=clock)  # the restarted process
    status = await run_until_settled(fresh, clock)
    assert status.phase is Phase.COMPLETED
    assert status.stable is not None and status.stable.version == "v2"
    assert world.starts == 6  # 3 blue + 3 green replicas, each started once whatever the crash


async def test_undo_rolls_the_previous_version_out_again_through_the_steps() -> None:
    store, clock = MemoryStateStore(), Clock()
    steps = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 100}]
    rollout = make_rollout({"blueGreenCanary": {"steps": steps, "scaleDownDelay": 0}})
    engine = Engine(store, MemoryRouter(), MemoryPlatform(MemoryWorld()), clock=clock)
    await operations.submit(store, rollout)
    await run_until_settled(engine, clock, 5)
    await operations.submit(store, rollout.with_version("v2"))
    await run_until_settled(engine, clock, 5)
    await operations.request(store, "web", IntentKind.PROMOTE_FULL, actor="ana", source="test")
    status = await run_until_settled(engine, clock, 5)
    assert status.stable is not None and status.stable.version == "v2"
    assert status.previous_version == "v1"

    await operations.request(store, "web", IntentKind.UNDO, actor="ana", source="test")
    spec = await store.get_spec("web")
    assert spec is not None and spec.spec.version == "v1"  # undo records the desired version
    status = await run_until_settled(engine, clock, 5)
    assert status.phase is Phase.PAUSED  # the old version goes through the steps like any other
    assert status.canary is not None and status.canary.version == "v1"
    assert status.weights[status.canary.color] == 10
    audit = await store.intents("web")
    assert [(i.kind, i.outcome) for i in audit][-1] == (IntentKind.UNDO, "done")


async def test_undo_without_a_previous_version_is_refused_and_changes_nothing() -> None:
    store, clock = MemoryStateStore(), Clock()
    engine = Engine(store, MemoryRouter(), MemoryPlatform(MemoryWorld()), clock=clock)
    await operations.submit(store, make_rollout(STRATEGY, analysisTemplates=TEMPLATES))
    await run_until_settled(engine, clock, 5)
    with pytest.raises(Conflict, match="no previous version"):
        await operations.request(store, "web", IntentKind.UNDO, actor="ana", source="test")
    spec = await store.get_spec("web")
    assert spec is not None and spec.spec.version == "v1"
    assert await store.intents("web") == []
