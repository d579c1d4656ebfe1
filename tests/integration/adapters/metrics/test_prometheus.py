"""The Prometheus provider and a whole analysis run against a real Prometheus (Debian's 2.42).

Prometheus scrapes a tiny local exporter (prometheus_client) every second; the exporter counts
requests, one in ten of them an error. Assertions are on ratios and presence, never exact counts.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter
from tests.integration.adapters.metrics.prometheus_process import (
    RunningPrometheus,
    exporting,
    scraping,
    start_prometheus,
    stop_prometheus,
)

from serinus.adapters.metrics.prometheus import PrometheusProvider
from serinus.app.analysis import advance, run_analysis
from serinus.core.analysis.run import (
    ERROR_RETRY_SECONDS,
    AnalysisPhase,
    MeasurementPhase,
    start_run,
)
from serinus.core.analysis.spec import AnalysisTemplateSpec, PrometheusSource
from serinus.core.errors import MetricsError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("prometheus-metrics"),  # one Prometheus per module, one worker
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]

ERROR_RATIO = 'sum(rate(demo_requests_total{code="500"}[5s])) / sum(rate(demo_requests_total[5s]))'


@pytest.fixture(scope="module")
def exporter() -> Iterator[int]:
    """A local /metrics endpoint whose request counter grows 10 per tick, 1 of them a 500."""
    registry = CollectorRegistry()
    requests = Counter("demo_requests", "Requests served", ["code"], registry=registry)

    def tick() -> None:
        requests.labels(code="200").inc(9)
        requests.labels(code="500").inc(1)

    with exporting(registry, tick) as port:
        yield port


@pytest.fixture(scope="module")
def prometheus(
    exporter: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPrometheus]:
    # ready once the error ratio is queryable (two scrapes of the exporter)
    with scraping(tmp_path_factory.mktemp("prometheus"), exporter, ERROR_RATIO) as running:
        yield running


def source(prometheus: RunningPrometheus, query: str, **fields: Any) -> PrometheusSource:
    return PrometheusSource.model_validate(
        {"address": prometheus.address, "query": query, **fields}
    )


async def test_instant_query_ratio(prometheus: RunningPrometheus) -> None:
    values = await PrometheusProvider().measure(source(prometheus, ERROR_RATIO))
    assert len(values) == 1
    assert 0.05 < values[0] < 0.15  # one request in ten is an error


async def test_presence_and_absence(prometheus: RunningPrometheus) -> None:
    provider = PrometheusProvider()
    assert await provider.measure(source(prometheus, 'up{job="demo"}')) == [1.0]
    assert await provider.measure(source(prometheus, "no_such_metric_total")) == []


async def test_range_query_returns_the_samples_over_time(prometheus: RunningPrometheus) -> None:
    query = 'demo_requests_total{code="200"}'
    ranged = source(prometheus, query, range={"start": "30s", "step": "1s"})
    values = await PrometheusProvider().measure(ranged)
    assert len(values) >= 2
    assert values == sorted(values)  # a counter never decreases
    assert values[-1] > values[0]


async def test_a_bad_query_is_a_metrics_error(prometheus: RunningPrometheus) -> None:
    with pytest.raises(MetricsError, match="bad_data"):
        await PrometheusProvider().measure(source(prometheus, "sum(rate("))


def template(
    prometheus: RunningPrometheus, condition: str, query: str = ERROR_RATIO
) -> AnalysisTemplateSpec:
    return AnalysisTemplateSpec.model_validate(
        {
            "args": [{"name": "job", "value": "demo"}],
            "metrics": [
                {
                    "name": "error-ratio",
                    "interval": "1s",
                    "count": 2,
                    "successCondition": condition,
                    "provider": {"prometheus": {"address": prometheus.address, "query": query}},
                },
                {
                    "name": "up",
                    "successCondition": "result[0] == 1",
                    "provider": {
                        "prometheus": {
                            "address": prometheus.address,
                            "query": 'up{job="{{args.job}}"}',
                        }
                    },
                },
            ],
        }
    )


async def test_analysis_passes_and_fails_on_live_data(prometheus: RunningPrometheus) -> None:
    providers = {"prometheus": PrometheusProvider()}
    healthy = await run_analysis(
        template(prometheus, "result[0] < 0.2"), {}, providers, clock=time.time
    )
    assert healthy.phase is AnalysisPhase.SUCCESSFUL, healthy.message
    assert healthy.result("error-ratio").count == 2
    strict = await run_analysis(
        template(prometheus, "result[0] < 0.01"), {}, providers, clock=time.time
    )
    assert strict.phase is AnalysisPhase.FAILED
    assert "successCondition not met" in strict.result("error-ratio").measurements[0].message


async def test_missing_series_is_inconclusive_not_success(prometheus: RunningPrometheus) -> None:
    spec = template(prometheus, "result[0] < 0.2", query="rate(no_such_metric_total[5s])")
    state = await run_analysis(spec, {}, {"prometheus": PrometheusProvider()}, clock=time.time)
    assert state.phase is AnalysisPhase.INCONCLUSIVE
    assert state.result("error-ratio").measurements[0].message == "no data: the result is empty"


async def test_prometheus_stopped_mid_analysis_errors_and_fails(tmp_path: Path) -> None:
    running = start_prometheus(tmp_path, scrape_port=None)  # `vector(1)` needs no scraping
    try:
        spec = AnalysisTemplateSpec.model_validate(
            {
                "metrics": [
                    {
                        "name": "always-one",
                        "interval": "1s",
                        "count": 5,
                        "consecutiveErrorLimit": 1,
                        "successCondition": "result[0] == 1",
                        "provider": {
                            "prometheus": {
                                "address": running.address,
                                "query": "vector(1)",
                                "timeout": "2s",
                            }
                        },
                    }
                ]
            }
        )
        providers = {"prometheus": PrometheusProvider()}
        state = await advance(spec, start_run(spec, {}, 0), providers, 0)
        assert state.result("always-one").successful == 1
        await asyncio.to_thread(stop_prometheus, running.process)
        state = await advance(spec, state, providers, 1)
        assert await advance(spec, state, providers, 2) == state  # an error waits 10 s, as Argo
        state = await advance(spec, state, providers, 1 + ERROR_RETRY_SECONDS)
    finally:
        stop_prometheus(running.process)
    measurements = state.result("always-one").measurements
    assert [m.phase for m in measurements] == [
        MeasurementPhase.SUCCESSFUL,
        MeasurementPhase.ERROR,
        MeasurementPhase.ERROR,
    ]
    assert "ConnectError" in measurements[1].message
    assert state.phase is AnalysisPhase.ERROR and state.failed
