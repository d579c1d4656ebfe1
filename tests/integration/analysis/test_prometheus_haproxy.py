"""Analysis over real Prometheus scraping real HAProxy and real replicas, in a local rollout.

The demo's rollout (setWeight 10 -> analysis -> setWeight 100, the demo's four metrics: error
ratio and p95 latency against stable, by thresholds and by the comparative judge) runs through
the engine under 100 req/s of load: a canary answering 20% errors is aborted by the analysis, a
healthy one passes and completes, and a Prometheus that goes away in the middle of an analysis
never lets the canary reach 100%.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app import operations
from serinus.app.driver import drive
from serinus.app.engine import Engine, Reconciled
from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.core.analysis.run import AnalysisPhase
from serinus.core.documents import validate_model
from serinus.core.ports import Platform, TrafficRouter
from serinus.core.spec import Rollout
from serinus.core.status import COLORS, Phase, RolloutStatus
from serinus.demo.prometheus import PrometheusServer
from serinus.demo.scenario import NAME, DemoOptions, LoadThread, demo_rollout, free_port

FAULTS = {"v3": 0.2}  # only v3 is bad
pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(
        shutil.which("haproxy") is None or shutil.which("prometheus") is None,
        reason="needs the Debian packages haproxy and prometheus",
    ),
]


@dataclass
class World:
    folder: Path
    store: SqliteStateStore
    router: TrafficRouter
    platform: Platform
    prometheus: PrometheusServer
    port: int
    stats_port: int
    scrapers: list[PrometheusServer] = field(default_factory=list)

    def rollout(self, version: str, prometheus: PrometheusServer | None = None) -> Rollout:
        """The demo's rollout without its judgement gate: the analysis alone decides."""
        address = (prometheus or self.prometheus).address
        options = DemoOptions(quick=True, replicas=2)
        spec = demo_rollout(version, options, self.port, self.stats_port, address, FAULTS)
        document = spec.model_dump(by_alias=True, exclude_none=True)
        steps = document["spec"]["strategy"]["blueGreenCanary"]["steps"]
        document["spec"]["strategy"]["blueGreenCanary"]["steps"] = [
            step for step in steps if "judgement" not in step
        ]
        return validate_model(Rollout, document, "test rollout")

    async def roll_out(
        self,
        rollout: Rollout,
        watch: Callable[[RolloutStatus], None] = lambda status: None,
        stop: asyncio.Event | None = None,
    ) -> RolloutStatus:
        await operations.submit(self.store, rollout)
        engine = Engine(self.store, self.router, self.platform)
        stop = stop or asyncio.Event()

        def update(result: Reconciled) -> None:
            for scraper in self.scrapers:
                if result.observed.colors:
                    scraper.write_targets(result.observed.colors)
            watch(result.status)
            if result.status.phase is Phase.AWAITING_JUDGEMENT:
                stop.set()  # an inconclusive analysis waits for a person: no promotion either

        result = await asyncio.wait_for(drive(engine, NAME, update, stop=stop), timeout=60)
        return result.status


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world() -> AsyncIterator[World]:
    # A short folder: HAProxy's admin socket path must fit in 97 characters.
    folder = Path(tempfile.mkdtemp(prefix="sa", dir="/tmp"))
    port, stats_port = free_port(), free_port()
    prometheus = PrometheusServer(folder / "prometheus", f"127.0.0.1:{stats_port}")
    store = SqliteStateStore(folder / "serinus.db")
    load: LoadThread | None = None
    world = None
    try:
        prometheus.start()
        first = demo_rollout("v1", DemoOptions(quick=True), port, stats_port, prometheus.address)
        context = AdapterContext(rollout=first, state_dir=folder / "rollouts" / NAME)
        router, platform = build_router(context), build_platform(context)
        world = World(folder, store, router, platform, prometheus, port, stats_port, [prometheus])
        await router.prepare()
        assert (await world.roll_out(world.rollout("v1"))).phase is Phase.COMPLETED
        await prometheus.wait_until_scraped()
        await prometheus.wait_until_scraped('up{job="replicas"} == 1')
        load = LoadThread(f"http://127.0.0.1:{port}/", rate=100)
        load.start()
        await asyncio.sleep(1.0)
        yield world
    finally:
        if load is not None:
            load.stop()
        if world is not None:
            for color in COLORS:
                await world.platform.tear_down(color)
            stopper = getattr(world.router, "stop", None)
            if stopper is not None:
                await stopper()
            await world.platform.close()
            await world.router.close()
        prometheus.stop()
        await store.close()
        shutil.rmtree(folder, ignore_errors=True)


def canary_weights(statuses: list[RolloutStatus]) -> list[int]:
    return [s.weights.get(s.canary.color, 0) for s in statuses if s.canary is not None]


async def test_a_canary_with_20_percent_errors_fails_the_analysis_and_is_aborted(
    world: World,
) -> None:
    stable = (await world.store.load(NAME)) or RolloutStatus()
    assert stable.stable is not None
    seen: list[RolloutStatus] = []
    status = await world.roll_out(world.rollout("v3"), seen.append)
    assert status.phase is Phase.ABORTED
    assert status.stable is not None and status.stable.version == stable.stable.version
    assert max(canary_weights(seen)) == 10  # it had its 10%, never more
    run = status.analysis
    assert run is not None and run.phase is AnalysisPhase.FAILED
    failed = [result for result in run.metrics if result.phase is AnalysisPhase.FAILED]
    assert [result.name for result in failed] == ["error-ratio"]
    excess = failed[0].measurements[-1].value[0]
    assert excess > 0.03  # the allowed increase over stable's error ratio


async def test_a_healthy_canary_passes_every_metric_and_completes(world: World) -> None:
    status = await world.roll_out(world.rollout("v2"))
    assert status.phase is Phase.COMPLETED, status.analysis
    assert status.stable is not None and status.stable.version == "v2"
    run = status.analysis
    assert run is not None and run.phase is AnalysisPhase.SUCCESSFUL
    assert {r.name: r.phase for r in run.metrics} == {
        "error-ratio": AnalysisPhase.SUCCESSFUL,
        "p95-latency": AnalysisPhase.SUCCESSFUL,
        "error-ratio-judged": AnalysisPhase.SUCCESSFUL,
        "p95-latency-judged": AnalysisPhase.SUCCESSFUL,
    }
    error_ratio = run.result("error-ratio")
    # one no-data measurement (the new replicas' first scrape not in yet) is within the limit
    assert error_ratio.count == 3 and error_ratio.successful >= 2
    assert all(m.value == [0.0] for m in error_ratio.measurements if m.value)
    judged = run.result("error-ratio-judged").measurements[-1].details
    assert judged["classification"] == "Pass"
    # the quick timing gives the judge few points (one per second with data, 8 s in; how many
    # scrapes landed in it depends on the machine's load)
    assert isinstance(judged["canaryCount"], float) and judged["canaryCount"] >= 2
    assert isinstance(judged["baselineCount"], float) and judged["baselineCount"] >= 2


async def test_prometheus_stopped_during_the_analysis_never_promotes(world: World) -> None:
    # A Prometheus of its own, so the other tests keep theirs.
    own = PrometheusServer(world.folder / "prometheus-stopped", world.prometheus.haproxy_metrics)
    world.scrapers.append(own)
    try:
        own.start()
        own.write_targets(await world.platform.observe())
        await own.wait_until_scraped('up{job="replicas"} == 1')
        before = await world.store.load(NAME)
        assert before is not None and before.stable is not None
        seen: list[RolloutStatus] = []

        def watch(status: RolloutStatus) -> None:
            seen.append(status)
            run = status.analysis
            if run is not None and run.result("error-ratio").successful >= 1 and own.process:
                own.stop()  # in the middle: one measurement taken, more to come

        status = await world.roll_out(world.rollout("v4", own), watch)
    finally:
        own.stop()
        world.scrapers.remove(own)
    assert own.process is None  # it was stopped during the analysis
    assert 100 not in canary_weights(seen)
    assert status.stable is not None and status.stable.version == before.stable.version
    run = status.analysis
    assert run is not None and run.failed, run
    assert status.phase is Phase.ABORTED
    errored = run.result("error-ratio")
    assert errored.phase is AnalysisPhase.ERROR and errored.consecutive_errors == 3
    assert "prometheus at" in (errored.last.message if errored.last else "")
