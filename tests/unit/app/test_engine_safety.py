"""The engine's side of issue 8: what it tells the router, what it measures, what it contains."""

from __future__ import annotations

from typing import Any

from model_world import Clock
from strategy_world import make_rollout

from serinus.adapters.metrics.memory import MemoryProvider
from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.core.errors import StoreError
from serinus.core.intents import IntentKind
from serinus.core.status import Color, ColorState, Phase, RolloutStatus

ROLLING: dict[str, Any] = {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
METRIC: dict[str, Any] = {
    "name": "error-ratio",
    "count": 50,
    "interval": "1s",
    "successCondition": "result[0] <= 0.05",
    "failureCondition": "result[0] >= 0.5",
    "provider": {"prometheus": {"address": "http://prom:9090", "query": "q"}},
}
TEMPLATES = [{"name": "errors", "metrics": [METRIC]}]
STRATEGY: dict[str, Any] = {
    "blueGreenCanary": {
        "steps": [{"setWeight": 10}, {"analysis": {"templates": ["errors"]}}],
        "scaleDownDelay": 0,
        "abortScaleDownDelay": 0,
    }
}


async def run_until_settled(engine: Engine, clock: Clock, rounds: int) -> RolloutStatus:
    status = RolloutStatus()
    for _ in range(rounds):
        status = (await engine.reconcile("web")).status
        clock.now += 0.5
    return status


async def test_a_torn_down_color_has_no_endpoints_in_the_router() -> None:
    store, clock, router = MemoryStateStore(), Clock(), MemoryRouter()
    rollout = make_rollout({"blueGreenCanary": {"steps": [], "scaleDownDelay": 0}})
    engine = Engine(store, router, MemoryPlatform(MemoryWorld()), clock=clock)
    await operations.submit(store, rollout)
    await run_until_settled(engine, clock, 5)
    await operations.submit(store, rollout.with_version("v2"))
    status = await run_until_settled(engine, clock, 10)
    assert status.terminal and status.stable is not None and status.stable.color == "green"
    assert router.endpoints["blue"] == (), "blue is gone: the router must not keep it ready"
    assert len(router.endpoints["green"]) == 3


async def test_no_provider_is_asked_once_the_rollout_is_aborted() -> None:
    provider = MemoryProvider([[0.01]])  # passing, but 50 measurements: the run keeps going
    store, clock = MemoryStateStore(), Clock()
    rollout = make_rollout(STRATEGY, analysisTemplates=TEMPLATES)
    engine = Engine(
        store, MemoryRouter(), MemoryPlatform(MemoryWorld()), clock=clock,
        providers={"prometheus": provider},
    )  # fmt: skip
    await operations.submit(store, rollout)
    await run_until_settled(engine, clock, 5)
    await operations.submit(store, rollout.with_version("v2"))
    await run_until_settled(engine, clock, 6)
    assert provider.calls, "the step's analysis was measuring"
    await operations.request(store, "web", IntentKind.ABORT, actor="ana", source="test")
    status = await run_until_settled(engine, clock, 3)
    assert status.phase is Phase.ABORTED
    assert status.analysis is not None and status.analysis.completed, "the run was terminated"
    calls = len(provider.calls)
    await run_until_settled(engine, clock, 10)
    assert len(provider.calls) == calls


class _BrokenPlatform(MemoryPlatform):
    async def observe(self) -> dict[Color, ColorState]:
        raise AttributeError("'list' object has no attribute 'get'")  # an adapter's bug


async def test_an_unexpected_exception_from_an_adapter_becomes_the_reconcile_error() -> None:
    store, clock = MemoryStateStore(), Clock()
    engine = Engine(store, MemoryRouter(), _BrokenPlatform(MemoryWorld()), clock=clock)
    await operations.submit(store, make_rollout(STRATEGY, analysisTemplates=TEMPLATES))
    result = await engine.reconcile("web")
    assert result.error is not None and "AttributeError" in result.error
    assert await store.load("web") is None, "nothing was saved"


class _FlakyStore(MemoryStateStore):
    failures = 0

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreError("database is locked")
        await super().save(*args, **kwargs)


async def test_a_store_error_is_reported_and_the_next_reconcile_rederives_from_the_world() -> None:
    store, clock, router = _FlakyStore(), Clock(), MemoryRouter()
    steps = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    rollout = make_rollout({"blueGreenCanary": {"steps": steps}})
    engine = Engine(store, router, MemoryPlatform(MemoryWorld()), clock=clock)
    await operations.submit(store, rollout)
    await run_until_settled(engine, clock, 5)
    await operations.submit(store, rollout.with_version("v2"))
    await run_until_settled(engine, clock, 5)
    await operations.request(store, "web", IntentKind.PROMOTE, actor="ana", source="test")
    store.failures = 1
    result = await engine.reconcile("web")
    assert result.error is not None and "database is locked" in result.error
    assert router.weights["green"] == 50, "the weights moved before the save failed"
    saved = await store.load("web")
    assert saved is not None and saved.weights["green"] == 10
    status = await run_until_settled(engine, clock, 3)
    assert status.weights["green"] == router.weights["green"] == 50
    assert await store.pending_intents("web") == []


async def test_abort_of_a_rolling_update_never_routes_to_nothing_and_ends_converged() -> None:
    world, store, clock, router = MemoryWorld(), MemoryStateStore(), Clock(), MemoryRouter()
    engine = Engine(store, router, MemoryPlatform(world), clock=clock)
    rollout = make_rollout(ROLLING)
    await operations.submit(store, rollout)
    await run_until_settled(engine, clock, 5)
    await operations.submit(store, rollout.with_version("v2"))
    for _ in range(20):
        status = (await engine.reconcile("web")).status
        if status.replicas.get("blue") == 0:
            break
    world.observes_until_ready = 3  # v1 comes back slowly
    await operations.request(store, "web", IntentKind.ABORT, actor="ana", source="test")
    seen = []
    for _ in range(20):
        result = await engine.reconcile("web")
        assert result.error is None
        seen.append(dict(router.weights))
        for color, weight in router.weights.items():
            assert weight == 0 or result.observed.color(color).ready > 0, seen
        if result.status.terminal:
            break
    assert result.status.terminal and router.weights == {"blue": 100, "green": 0}
    assert "green" not in world.colors
    assert seen[0]["blue"] < 100, f"traffic moved back as v1 became ready: {seen}"


class _WatchedPlatform(MemoryPlatform):
    """Records, at each scale-down, the replicas the router still lists that are being stopped."""

    def __init__(self, world: MemoryWorld, router: MemoryRouter) -> None:
        super().__init__(world)
        self.router = router
        self.scale_downs: list[tuple[Color, int]] = []
        self.still_routed: list[tuple[Color, int]] = []

    async def ensure(self, color: Color, version: str, replicas: int) -> None:
        current = self.world.colors.get(color)
        if current is not None and current.version == version and current.desired > replicas:
            self.scale_downs.append((color, replicas))
            listed = {e.replica for e in self.router.endpoints[color]}
            self.still_routed += [
                (color, i) for i in current.replicas if i >= replicas and i in listed
            ]
        await super().ensure(color, version, replicas)


async def test_a_scale_down_takes_the_stopping_replicas_out_of_the_router_first() -> None:
    world, store, clock, router = MemoryWorld(), MemoryStateStore(), Clock(), MemoryRouter()
    platform = _WatchedPlatform(world, router)
    engine = Engine(store, router, platform, clock=clock)
    rollout = make_rollout(ROLLING)
    await operations.submit(store, rollout)
    await run_until_settled(engine, clock, 5)
    await operations.submit(store, rollout.with_version("v2"))
    status = await run_until_settled(engine, clock, 30)
    assert status.terminal and status.stable is not None and status.stable.version == "v2"
    assert len(platform.scale_downs) >= 2, platform.scale_downs  # v1 went down one by one
    assert platform.still_routed == [], "the router listed replicas as they were stopped"
