"""A `sequential` metric against a real Prometheus (Debian's 2.42): counters, histogram buckets.

Prometheus scrapes a local exporter (prometheus_client) every second. The exporter serves three
versions: `stable` and `good` answer 1 request in 100 with an error and 1 in 100 slower than
0.25 s; `bad` answers 1 in 5 with an error and 1 in 3 slowly. Assertions are on outcomes and
ratios, never exact counts or times.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram
from tests.integration.adapters.metrics.prometheus_process import (
    RunningPrometheus,
    exporting,
    scraping,
)

from serinus.adapters.metrics.prometheus import PrometheusProvider
from serinus.app.analysis import run_analysis
from serinus.core.analysis.run import AnalysisPhase, AnalysisRunState, MeasurementPhase
from serinus.core.analysis.spec import AnalysisTemplateSpec

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("prometheus-metrics"),  # one Prometheus per module, one worker
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]

# requests per tick of 0.05 s, and one error (one slow answer) every N requests
TRAFFIC = {"stable": (9, 100, 100), "good": (1, 100, 100), "bad": (1, 5, 3)}


@pytest.fixture(scope="module")
def exporter() -> Iterator[int]:
    registry = CollectorRegistry()
    requests = Counter("demo_requests", "Requests", ["version", "code"], registry=registry)
    latency = Histogram(
        "demo_request_duration_seconds",
        "Answer time",
        ["version"],
        buckets=(0.05, 0.25, 1.0),
        registry=registry,
    )
    served = dict.fromkeys(TRAFFIC, 0)

    def tick() -> None:
        for version, (per_tick, error_every, slow_every) in TRAFFIC.items():
            for _ in range(per_tick):
                served[version] += 1
                n = served[version]
                requests.labels(version, "500" if n % error_every == 0 else "200").inc()
                latency.labels(version).observe(0.5 if n % slow_every == 0 else 0.01)

    with exporting(registry, tick) as port:
        yield port


@pytest.fixture(scope="module")
def prometheus(
    exporter: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPrometheus]:
    ready = 'sum(demo_requests_total{version="bad"})'
    with scraping(tmp_path_factory.mktemp("prometheus"), exporter, ready) as running:
        yield running


def counters(version: str, kind: str) -> dict[str, str]:
    if kind == "errors":
        total = f'sum(demo_requests_total{{version="{version}"}})'
        errors = f'sum(demo_requests_total{{version="{version}",code="500"}}) or vector(0)'
        return {"requests": total, "errors": errors}
    histogram = "demo_request_duration_seconds"
    return {
        "requests": f'sum({histogram}_count{{version="{version}"}})',
        "bucket": f'sum({histogram}_bucket{{version="{version}",le="0.25"}})',
    }


def template(
    prometheus: RunningPrometheus, canary: str, kind: str = "errors", **fields: Any
) -> AnalysisTemplateSpec:
    metric = {
        "name": "sequential",
        "interval": "1s",
        "count": 8,
        "sequential": {
            "provider": {"prometheus": {"address": prometheus.address, "timeout": 2}},
            "minSamples": 50,
            "canary": counters(canary, kind),
            "baseline": counters("stable", kind),
        },
        **fields,
    }
    return AnalysisTemplateSpec.model_validate({"metrics": [metric]})


async def analyse(spec: AnalysisTemplateSpec) -> AnalysisRunState:
    return await run_analysis(spec, {}, {"prometheus": PrometheusProvider()}, clock=time.time)


@pytest.mark.parametrize("kind", ["errors", "bucket"])
async def test_a_bad_canary_fails_before_its_count_of_looks(
    prometheus: RunningPrometheus, kind: str
) -> None:
    state = await analyse(template(prometheus, "bad", kind, count=30))
    result = state.result("sequential")
    assert state.phase is AnalysisPhase.FAILED, result.message
    assert result.count < 30  # it did not wait for the count
    failed = result.measurements[-1]
    assert failed.phase is MeasurementPhase.FAILED
    assert failed.value[0] >= 20.0 == failed.details["boundary"]
    canary, baseline = failed.details["canaryRatio"], failed.details["baselineRatio"]
    assert isinstance(canary, float) and isinstance(baseline, float)
    assert canary > 0.1 > baseline  # about 0.2 or 0.33 against 0.01
    assert failed.details["counts"] == ("errors" if kind == "errors" else "slow")


@pytest.mark.parametrize("kind", ["errors", "bucket"])
async def test_a_healthy_canary_passes_after_its_count_with_min_samples(
    prometheus: RunningPrometheus, kind: str
) -> None:
    state = await analyse(template(prometheus, "good", kind))
    result = state.result("sequential")
    assert state.phase is AnalysisPhase.SUCCESSFUL, result.message
    assert result.count == 8
    assert result.sequential is not None
    assert result.sequential.seen.canary_requests >= 50


async def test_a_canary_without_series_is_inconclusive_never_a_pass(
    prometheus: RunningPrometheus,
) -> None:
    state = await analyse(template(prometheus, "absent", count=3))
    result = state.result("sequential")
    assert state.phase is AnalysisPhase.INCONCLUSIVE
    assert result.measurements[0].message == "no data: canary.requests is empty"
