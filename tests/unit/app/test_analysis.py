"""app.analysis: measuring what is due, concurrently, through the provider registry."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
import pytest

from serinus.adapters.metrics.memory import MemoryProvider
from serinus.adapters.metrics.prometheus import PrometheusProvider
from serinus.app import analysis
from serinus.app.analysis import advance, default_providers, run_analysis
from serinus.core.analysis.run import AnalysisPhase, MeasurementPhase, start_run
from serinus.core.analysis.spec import AnalysisTemplateSpec, PrometheusSource
from serinus.core.errors import InvalidInput, MetricsError


def prom(query: str = "q") -> dict[str, Any]:
    return {"prometheus": {"address": "http://prom:9090", "query": query, "timeout": "1s"}}


def make_spec(
    *metrics: dict[str, Any], args: list[dict[str, Any]] | None = None
) -> AnalysisTemplateSpec:
    return AnalysisTemplateSpec.model_validate(
        {
            "args": args or [],
            "metrics": [
                {"provider": prom(), "successCondition": "result[0] >= 0.99", **m} for m in metrics
            ],
        }
    )


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_due_metrics_are_measured_concurrently_and_recorded() -> None:
    both_called = asyncio.Event()
    calls: list[str] = []

    class Rendezvous:
        async def measure(self, source: PrometheusSource) -> list[float]:
            calls.append(source.query)
            if len(calls) == 2:
                both_called.set()
            # each measurement waits for the other: only concurrent measuring gets past this
            await asyncio.wait_for(both_called.wait(), 5)
            return [1.0]

    spec = make_spec({"name": "a", "provider": prom("qa")}, {"name": "b", "provider": prom("qb")})
    state = await advance(spec, start_run(spec, {}, 0), {"prometheus": Rendezvous()}, 0)
    assert sorted(calls) == ["qa", "qb"]
    assert state.phase is AnalysisPhase.SUCCESSFUL
    assert [r.measurements[0].phase for r in state.metrics] == [MeasurementPhase.SUCCESSFUL] * 2


async def test_only_due_metrics_are_measured() -> None:
    provider = MemoryProvider([[1.0]])
    spec = make_spec({"name": "now"}, {"name": "later", "initialDelay": "1m"})
    state = await advance(spec, start_run(spec, {}, 0), {"prometheus": provider}, 10)
    assert len(provider.calls) == 1
    assert state.result("later").phase is AnalysisPhase.PENDING


async def test_arguments_reach_the_provider_rendered() -> None:
    provider = MemoryProvider([[0.5]])
    spec = make_spec(
        {
            "name": "m",
            "provider": prom('rate(x{svc="{{args.svc}}",{{canary.selector}}}[1m])'),
            "successCondition": "result[0] < {{args.limit}}",
        },
        args=[{"name": "svc"}, {"name": "limit", "value": "0.1"}],
    )
    state = start_run(spec, {"svc": "api", "canary.selector": 'color="green"'}, 0)
    state = await advance(spec, state, {"prometheus": provider}, 0)
    assert provider.calls[0].query == 'rate(x{svc="api",color="green"}[1m])'
    assert state.phase is AnalysisPhase.FAILED  # 0.5 is not < 0.1
    assert "successCondition not met: result[0] < 0.1" in state.metrics[0].measurements[0].message


async def test_a_provider_that_is_down_errors_then_fails_the_run() -> None:
    down = MemoryProvider([MetricsError("prometheus at http://prom:9090: ConnectError")])
    spec = make_spec({"name": "m", "interval": "10s", "count": 3, "consecutiveErrorLimit": 2})
    clock = FakeClock()
    state = await run_analysis(spec, {}, {"prometheus": down}, clock=clock, sleep=clock.sleep)
    result = state.result("m")
    assert [m.phase for m in result.measurements] == [MeasurementPhase.ERROR] * 3
    assert "ConnectError" in result.measurements[0].message
    assert state.phase is AnalysisPhase.ERROR and state.failed
    assert clock.sleeps == [10.0, 10.0]  # retried after Argo's fixed 10 s


async def test_recovering_provider_resets_the_error_streak() -> None:
    flaky = MemoryProvider([MetricsError("down"), MetricsError("down"), [1.0], [1.0]])
    spec = make_spec({"name": "m", "interval": "5s", "count": 2, "consecutiveErrorLimit": 2})
    clock = FakeClock()
    state = await run_analysis(spec, {}, {"prometheus": flaky}, clock=clock, sleep=clock.sleep)
    assert state.phase is AnalysisPhase.SUCCESSFUL
    assert state.result("m").error == 2 and state.result("m").consecutive_errors == 0
    assert clock.sleeps == [10.0, 10.0, 5.0]  # errors retried after 10 s, then the interval


class Exploding:
    """A provider with a bug: it raises something nobody foresaw, carrying a reply's text."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def measure(self, source: Any) -> list[float]:
        raise self.exc


@pytest.mark.parametrize(
    "exc",
    [
        AttributeError("'list' object has no attribute 'get' SECRET-BODY"),
        KeyError("SECRET-BODY"),
        ZeroDivisionError("SECRET-BODY"),
        RuntimeError("SECRET-BODY"),
    ],
)
async def test_any_exception_of_a_provider_is_an_error_measurement_with_a_fixed_reason(
    exc: Exception,
) -> None:
    spec = make_spec({"name": "m"})
    state = await advance(spec, start_run(spec, {}, 0), {"prometheus": Exploding(exc)}, 0)
    measurement = state.result("m").measurements[0]
    assert measurement.phase is MeasurementPhase.ERROR
    assert measurement.message == f"the provider failed unexpectedly ({type(exc).__name__})"
    assert "SECRET" not in state.model_dump_json()


async def test_a_prometheus_vector_of_lists_is_an_error_measurement() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        body = {"status": "success", "data": {"resultType": "vector", "result": [[1, "2"]]}}
        return httpx.Response(200, json=body)

    provider = PrometheusProvider(transport=httpx.MockTransport(reply))
    spec = make_spec({"name": "m", "consecutiveErrorLimit": 0})
    state = await advance(spec, start_run(spec, {}, 0), {"prometheus": provider}, 0)
    assert state.result("m").measurements[0].phase is MeasurementPhase.ERROR
    assert state.phase is AnalysisPhase.ERROR  # consecutiveErrorLimit is reached, no traceback


@pytest.mark.parametrize("order", [("inc", "bad"), ("bad", "inc")])
async def test_one_tick_takes_the_worst_outcome_whatever_the_metric_order(
    order: tuple[str, str],
) -> None:
    # "inc" answers NaN (no data: Inconclusive), "bad" answers 0.5 (Failed), in the same tick.
    values = {"qinc": [float("nan")], "qbad": [0.5]}
    provider = MemoryProvider(respond=lambda source: values[source.query])
    spec = make_spec(*({"name": name, "provider": prom(f"q{name}")} for name in order))
    spec = spec.model_copy(
        update={
            "metrics": [
                m.model_copy(
                    update={"success_condition": None, "failure_condition": "result[0] > 0.1"}
                )
                for m in spec.metrics
            ]
        }
    )
    state = await advance(spec, start_run(spec, {}, 0), {"prometheus": provider}, 0)
    assert state.result("inc").phase is AnalysisPhase.INCONCLUSIVE
    assert state.result("bad").phase is AnalysisPhase.FAILED
    assert state.phase is AnalysisPhase.FAILED


async def test_run_follows_initial_delay_interval_and_count() -> None:
    provider = MemoryProvider([[1.0]])
    spec = make_spec({"name": "m", "initialDelay": "30s", "interval": "15s", "count": 3})
    clock = FakeClock(start=0)
    state = await run_analysis(spec, {}, {"prometheus": provider}, clock=clock, sleep=clock.sleep)
    assert [m.at for m in state.result("m").measurements] == [30.0, 45.0, 60.0]
    assert state.phase is AnalysisPhase.SUCCESSFUL and state.finished_at == 60.0


async def test_max_duration_terminates_an_indefinite_metric() -> None:
    provider = MemoryProvider([[1.0]])
    spec = make_spec({"name": "m", "interval": "10s"})
    clock = FakeClock(start=0)
    updates: list[AnalysisPhase] = []
    state = await run_analysis(
        spec,
        {},
        {"prometheus": provider},
        clock=clock,
        sleep=clock.sleep,
        max_duration=35,
        on_update=lambda s: updates.append(s.phase),
    )
    assert [m.at for m in state.result("m").measurements] == [0.0, 10.0, 20.0, 30.0]
    assert state.phase is AnalysisPhase.SUCCESSFUL and state.finished_at == 35
    assert updates == [AnalysisPhase.RUNNING] * 4


async def test_unknown_provider_kind_is_rejected_before_measuring() -> None:
    provider = MemoryProvider([[1.0]])
    spec = make_spec({"name": "a"}, {"name": "b", "provider": {"command": {"command": ["true"]}}})
    state = start_run(spec, {}, 0)
    with pytest.raises(InvalidInput, match="no metric provider for 'command'"):
        await advance(spec, state, {"prometheus": provider}, 0)
    assert provider.calls == []


async def test_a_hanging_provider_becomes_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis, "TIMEOUT_GRACE_SECONDS", 0.0)

    class Hanging:
        async def measure(self, source: Any) -> list[float]:
            await asyncio.sleep(3600)
            return [1.0]

    spec = make_spec(
        {"name": "m", "provider": {"prometheus": {**prom()["prometheus"], "timeout": 0.05}}}
    )
    state = await advance(spec, start_run(spec, {}, 0), {"prometheus": Hanging()}, 0)
    assert state.metrics[0].measurements[0].phase is MeasurementPhase.ERROR
    assert "did not answer in time" in state.metrics[0].measurements[0].message


async def test_comparison_measures_both_sides_and_judges() -> None:
    rng = np.random.default_rng(1)
    samples = {
        "baseline": list(rng.normal(0.005, 0.001, 40)),
        "canary": list(rng.normal(0.05, 0.004, 40)),
    }
    provider = MemoryProvider(respond=lambda source: samples[source.query])
    spec = AnalysisTemplateSpec.model_validate(
        {
            "metrics": [
                {
                    "name": "errors",
                    "comparison": {
                        "provider": {
                            "prometheus": {
                                "address": "http://prom:9090",
                                "range": {"start": "5m", "step": "10s"},
                            }
                        },
                        "baselineQuery": "baseline",
                        "canaryQuery": "canary",
                        "canaryConfig": {"direction": "increase"},
                    },
                }
            ]
        }
    )
    state = await advance(spec, start_run(spec, {}, 0), {"prometheus": provider}, 0)
    assert sorted(s.query for s in provider.calls) == ["baseline", "canary"]
    measurement = state.metrics[0].measurements[0]
    assert measurement.details["classification"] == "High"
    assert state.phase is AnalysisPhase.FAILED


def test_default_registry_is_keyed_by_provider_kind() -> None:
    assert sorted(default_providers()) == ["command", "prometheus", "web"]
