"""A sequential metric measured by the app: counters read at one instant, judged by the core."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import yaml
from typer.testing import CliRunner

from serinus.adapters.metrics.prometheus import PrometheusProvider
from serinus.app.analysis import advance, run_analysis
from serinus.core.analysis.run import AnalysisPhase, MeasurementPhase, start_run
from serinus.core.analysis.spec import AnalysisTemplateSpec, PrometheusSource
from serinus.core.errors import MetricsError
from serinus.entrypoints.cli.main import _register, app

SEQUENTIAL: dict[str, Any] = {
    "name": "errors",
    "interval": "1s",
    "count": 30,
    "sequential": {
        "provider": {"prometheus": {"address": "http://prom:9090", "timeout": "1s"}},
        "minSamples": 50,
        "canary": {"requests": "canary_requests", "errors": "canary_errors"},
        "baseline": {"requests": "stable_requests", "errors": "stable_errors"},
    },
}


def spec() -> AnalysisTemplateSpec:
    return AnalysisTemplateSpec.model_validate({"metrics": [SEQUENTIAL]})


class Counters:
    """A provider whose counters grow by `step` per query name at every tick."""

    def __init__(self, step: dict[str, float]) -> None:
        self.step = step
        self.calls: list[str] = []

    async def measure(self, source: PrometheusSource) -> list[float]:
        self.calls.append(source.query)
        look = (len(self.calls) - 1) // len(self.step)  # each look reads every counter once
        return [self.step[source.query] * look]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


BAD: dict[str, float] = {
    "canary_requests": 10,
    "canary_errors": 5,
    "stable_requests": 90,
    "stable_errors": 0,
}


async def test_a_bad_canary_fails_within_a_few_looks_with_the_evidence_recorded() -> None:
    clock = FakeClock()
    provider = Counters(BAD)
    state = await run_analysis(spec(), {}, {"prometheus": provider}, clock=clock, sleep=clock.sleep)
    assert state.phase is AnalysisPhase.FAILED
    result = state.result("errors")
    assert len(result.measurements) <= 4
    assert sorted(provider.calls[:4]) == sorted(BAD)  # each look reads every counter once
    failed = result.measurements[-1]
    assert failed.phase is MeasurementPhase.FAILED
    assert failed.value[0] == failed.details["evidence"]
    assert failed.value[0] >= 20.0 == failed.details["boundary"]
    assert failed.details["canaryRatio"] == 0.5


async def test_a_healthy_canary_passes_only_after_its_count_of_looks() -> None:
    clock = FakeClock()
    healthy: dict[str, float] = {
        "canary_requests": 10,
        "canary_errors": 0,
        "stable_requests": 90,
        "stable_errors": 0,
    }
    state = await run_analysis(
        spec(), {}, {"prometheus": Counters(healthy)}, clock=clock, sleep=clock.sleep
    )
    assert state.phase is AnalysisPhase.SUCCESSFUL
    assert state.result("errors").count == 30
    assert state.finished_at == 1029.0


async def test_a_provider_failure_is_an_error_look_and_keeps_the_evidence() -> None:
    class Down:
        async def measure(self, source: PrometheusSource) -> list[float]:
            raise MetricsError("prometheus at http://prom:9090: cannot connect (ConnectError)")

    template = spec()
    state = await advance(template, start_run(template, {}, 0), {"prometheus": Counters(BAD)}, 0)
    kept = state.result("errors").sequential
    assert kept is not None
    state = await advance(template, state, {"prometheus": Down()}, 1)
    result = state.result("errors")
    assert result.measurements[-1].phase is MeasurementPhase.ERROR
    assert result.measurements[-1].message.startswith("prometheus at http://prom:9090")
    assert result.sequential == kept


async def test_prometheus_reads_every_counter_of_a_look_at_one_instant() -> None:
    seen: list[dict[str, list[str]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        params = parse_qs(request.url.query.decode())
        seen.append(params)
        value = "7" if "requests" in params["query"][0] else "1"
        data = {"resultType": "vector", "result": [{"metric": {}, "value": [0, value]}]}
        return httpx.Response(200, json={"status": "success", "data": data})

    ticks = iter([1234.5, 9999.0])
    provider = PrometheusProvider(transport=httpx.MockTransport(answer), clock=lambda: next(ticks))
    template = spec()
    state = await advance(template, start_run(template, {}, 0), {"prometheus": provider}, 0)
    assert sorted(p["query"][0] for p in seen) == sorted(BAD)
    assert {p["time"][0] for p in seen} == {"1234.5"}  # one clock reading for all four
    first = state.result("errors").measurements[0]
    assert first.phase is MeasurementPhase.SUCCESSFUL, first.message


def test_lint_accepts_a_sequential_metric_and_names_a_bad_field(tmp_path: Path) -> None:
    _register()
    document: dict[str, Any] = {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "errors"},
        "spec": {"metrics": [SEQUENTIAL]},
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(app, ["lint", str(path)])
    assert result.exit_code == 0, result.output
    document["spec"]["metrics"] = [
        {**SEQUENTIAL, "sequential": {**SEQUENTIAL["sequential"], "alpha": 2}}
    ]
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(app, ["lint", str(path)])
    assert result.exit_code == 2
    assert "spec.metrics[0].sequential.alpha" in result.output
