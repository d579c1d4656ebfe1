"""The `sequential` metric kind: its spec, each look's record, failing early, passing late."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from serinus.core.analysis.looks import CounterReading
from serinus.core.analysis.run import (
    AnalysisPhase,
    AnalysisRunState,
    Measurement,
    MeasurementPhase,
    record_tick,
    start_run,
    terminate,
)
from serinus.core.analysis.spec import AnalysisTemplateSpec, Metric
from serinus.core.judge.sequential import CounterLook, ErrorRatioTest

ADDRESS = {"prometheus": {"address": "http://prom:9090", "timeout": "2s"}}
ERRORS = {
    "canary": {"requests": "canary_requests", "errors": "canary_errors"},
    "baseline": {"requests": "stable_requests", "errors": "stable_errors"},
}


def sequential(**fields: Any) -> dict[str, Any]:
    return {"provider": ADDRESS, "minSamples": 100, **ERRORS, **fields}


def metric(**fields: Any) -> dict[str, Any]:
    return {"name": "seq", "interval": "1s", "count": 10, "sequential": sequential(), **fields}


def spec_of(*metrics: dict[str, Any]) -> AnalysisTemplateSpec:
    return AnalysisTemplateSpec.model_validate({"metrics": list(metrics)})


def reading(cr: float, ce: float, br: float, be: float) -> CounterReading:
    return CounterReading(
        {
            "canary.requests": [cr],
            "canary.errors": [ce],
            "baseline.requests": [br],
            "baseline.errors": [be],
        }
    )


def look(
    spec: AnalysisTemplateSpec, state: AnalysisRunState, now: float, taken: CounterReading
) -> AnalysisRunState:
    return record_tick(spec, state, [("seq", taken)], now)


# --- the spec ----------------------------------------------------------------------------------


def test_a_sequential_metric_loads_with_its_defaults() -> None:
    loaded = Metric.model_validate(metric())
    assert loaded.sequential is not None
    assert (loaded.sequential.alpha, loaded.sequential.min_samples) == (0.05, 100)
    sources = loaded.sequential.sources()
    assert list(sources) == [
        "canary.requests",
        "canary.errors",
        "baseline.requests",
        "baseline.errors",
    ]
    assert sources["baseline.errors"].query == "stable_errors"
    assert sources["canary.requests"].address == "http://prom:9090"
    assert sources["canary.requests"].timeout == 2.0


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"sequential": sequential(alpha=0)}, "alpha"),
        ({"sequential": sequential(alpha=0.6)}, "alpha"),
        ({"sequential": sequential(minSamples=0)}, "minSamples"),
        ({"sequential": {"provider": ADDRESS, **ERRORS}}, "minSamples"),
        (
            {"sequential": sequential(canary={"requests": "r"})},
            "give errors (failed requests) or bucket (fast requests), not both",
        ),
        (
            {"sequential": sequential(canary={"requests": "r", "errors": "e", "bucket": "b"})},
            "not both",
        ),
        ({"sequential": sequential(canary={"requests": "", "errors": "e"})}, "requests"),
        (
            {"sequential": sequential(canary={"requests": "r", "bucket": "b"})},
            "canary counts bucket and baseline counts errors; both sides must count the same",
        ),
        (
            {
                "sequential": sequential(
                    provider={"prometheus": {"address": "http://p", "query": "q"}}
                )
            },
            "leave provider.prometheus.query empty",
        ),
        (
            {
                "sequential": sequential(
                    provider={
                        "prometheus": {"address": "http://p", "range": {"start": 60, "step": 1}}
                    }
                )
            },
            "range is not allowed",
        ),
        (
            {"sequential": sequential(provider={"web": {"url": "http://w"}})},
            "sequential supports the prometheus provider only",
        ),
        ({"interval": None, "count": None}, "interval must be set for a sequential metric"),
        ({"count": 1}, "count must be >= 2 for a sequential metric"),
        ({"failureLimit": 1}, "failureLimit must be 0 for a sequential metric"),
        ({"successCondition": "result[0] < 1"}, "judged by its evidence, not conditions"),
        (
            {"provider": {"prometheus": {"address": "http://p", "query": "q"}}},
            "exactly one of: provider, comparison, sequential",
        ),
    ],
)
def test_bad_sequential_metrics_are_refused_naming_the_field(
    fields: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Metric.model_validate({**metric(), **fields})
    assert problem in str(caught.value)


def test_the_latency_form_counts_requests_slower_than_the_bucket() -> None:
    buckets = {
        "canary": {"requests": "c_count", "bucket": 'c_bucket{le="0.25"}'},
        "baseline": {"requests": "s_count", "bucket": 's_bucket{le="0.25"}'},
    }
    spec = spec_of(metric(sequential=sequential(**buckets)))
    state = start_run(spec, {}, 0)
    values = {"canary.requests": [100.0], "canary.bucket": [90.0]}
    values |= {"baseline.requests": [1000.0], "baseline.bucket": [995.0]}
    state = look(spec, state, 0, CounterReading(values))
    # 10 canary requests answered, 2 of them slower than 0.25 s; 100 baseline, none slower
    values = {"canary.requests": [110.0], "canary.bucket": [98.0]}
    values |= {"baseline.requests": [1100.0], "baseline.bucket": [1095.0]}
    state = look(spec, state, 1, CounterReading(values))
    measured = state.result("seq").measurements[-1]
    assert measured.details["counts"] == "slow"
    assert measured.details["canarySlow"] == 2.0
    assert measured.details["baselineSlow"] == 0.0
    assert measured.details["canaryRatio"] == pytest.approx(0.2)
    expected = ErrorRatioTest().evidence(
        [CounterLook(0, 100, 10, 1000, 5), CounterLook(1, 110, 12, 1100, 5)]
    )
    assert measured.details["logEvidence"] == pytest.approx(expected[1].log_evidence)
    assert "canary slow 20.00% of 10 requests, baseline 0.00% of 100 requests" in measured.message


# --- each look ---------------------------------------------------------------------------------


def test_each_look_records_the_evidence_the_boundary_and_both_ratios() -> None:
    spec = spec_of(metric())
    state = look(spec, start_run(spec, {}, 0), 0, reading(500, 5, 9000, 45))
    first = state.result("seq").measurements[0]
    assert first.phase is MeasurementPhase.SUCCESSFUL
    assert first.message == "first look: counting starts here (evidence 1 of 20)"
    assert (first.details["evidence"], first.details["boundary"]) == (1.0, 20.0)
    state = look(spec, state, 1, reading(510, 6, 9090, 45))
    second = state.result("seq").measurements[1]
    expected = ErrorRatioTest().evidence(
        [CounterLook(0, 500, 5, 9000, 45), CounterLook(1, 510, 6, 9090, 45)]
    )[1]
    assert second.details["logEvidence"] == pytest.approx(expected.log_evidence)
    assert second.details["evidence"] == pytest.approx(math.exp(expected.log_evidence))
    assert second.value == [pytest.approx(math.exp(expected.log_evidence))]
    assert second.details["boundary"] == 20.0
    # the ratios are of what the test counted: since the first look, not since the process began
    assert second.details["canaryRatio"] == pytest.approx(1 / 10)
    assert second.details["baselineRatio"] == 0.0
    assert (second.details["canaryRequests"], second.details["baselineRequests"]) == (10.0, 90.0)
    assert (second.details["canaryErrors"], second.details["minSamples"]) == (1.0, 100.0)
    assert second.message == (
        f"evidence {math.exp(expected.log_evidence):.3g} of 20 (1/alpha): canary errors 10.00% "
        "of 10 requests, baseline 0.00% of 90 requests; 10 of minSamples 100 canary requests"
    )
    # the state persists (a status round trip) and the next look carries on from it
    stored = AnalysisRunState.from_storage(state.to_storage())
    assert stored == state
    assert stored.result("seq").sequential is not None


def bad_canary(seconds: int) -> list[CounterReading]:
    """10 canary requests a second, 5 errors; 90 baseline requests, none."""
    return [reading(10 * t, 5 * t, 90 * t, 0) for t in range(seconds)]


def test_a_bad_canary_fails_as_soon_as_the_evidence_reaches_the_boundary() -> None:
    spec = spec_of(metric(count=30))
    state = start_run(spec, {}, 0)
    for t, taken in enumerate(bad_canary(30)):
        state = look(spec, state, float(t), taken)
        if state.completed:
            break
    result = state.result("seq")
    assert state.phase is AnalysisPhase.FAILED
    failed = result.measurements[-1]
    assert failed.phase is MeasurementPhase.FAILED
    assert failed.details["boundary"] == 20.0
    assert failed.value[0] == failed.details["evidence"]
    assert failed.value[0] >= 20.0
    assert all(m.value[0] < 20.0 for m in result.measurements[:-1])
    assert failed.at <= 3.0  # long before the count of 30 looks, and before minSamples
    assert failed.message.startswith(f"evidence {failed.details['evidence']:.3g} reached 20")
    assert state.finished_at == failed.at
    assert result.message == failed.message  # the metric, the run and `serinus get` say why
    assert state.message == f"seq: {failed.message}"


def healthy(seconds: int, canary: float = 10) -> list[CounterReading]:
    return [reading(canary * t, 0, 90 * t, 0) for t in range(seconds)]


def test_never_passes_before_min_samples_even_when_the_count_ends() -> None:
    spec = spec_of(metric(count=5, sequential=sequential(minSamples=100)))
    state = start_run(spec, {}, 0)
    for t, taken in enumerate(healthy(5)):
        state = look(spec, state, float(t), taken)
    assert state.phase is AnalysisPhase.INCONCLUSIVE  # 40 canary requests since the first look
    assert state.result("seq").message == (
        "5 looks with 40 canary requests, fewer than minSamples 100: not enough to pass"
    )


def test_passes_when_the_count_ends_with_min_samples() -> None:
    spec = spec_of(metric(count=12, sequential=sequential(minSamples=100)))
    state = start_run(spec, {}, 0)
    for t, taken in enumerate(healthy(12)):
        assert not state.completed
        state = look(spec, state, float(t), taken)
    assert state.phase is AnalysisPhase.SUCCESSFUL  # 110 canary requests


def test_terminating_passes_only_with_min_samples() -> None:
    indefinite = spec_of(metric(count=None))
    for seconds, expected in ((5, AnalysisPhase.INCONCLUSIVE), (12, AnalysisPhase.SUCCESSFUL)):
        state = start_run(indefinite, {}, 0)
        for t, taken in enumerate(healthy(seconds)):
            state = look(indefinite, state, float(t), taken)
        assert state.phase is AnalysisPhase.RUNNING
        assert terminate(indefinite, state, 100.0).phase is expected


@pytest.mark.parametrize(
    ("values", "phase", "message"),
    [
        ({"canary.errors": []}, MeasurementPhase.INCONCLUSIVE, "no data: canary.errors is empty"),
        (
            {"baseline.requests": [math.nan]},
            MeasurementPhase.INCONCLUSIVE,
            "no data: baseline.requests is NaN",
        ),
        (
            # no data wins over an error elsewhere in the look: it is the cause
            {"canary.requests": [1.0, 2.0], "baseline.errors": []},
            MeasurementPhase.INCONCLUSIVE,
            "no data: baseline.errors is empty",
        ),
        (
            {"canary.requests": [1.0, 2.0]},
            MeasurementPhase.ERROR,
            "canary.requests returned 2 values; a counter query must return one (sum it)",
        ),
        ({"canary.errors": [-1.0]}, MeasurementPhase.ERROR, "canary.errors is -1, not a count"),
        (
            {"canary.errors": [math.inf]},
            MeasurementPhase.ERROR,
            "canary.errors is inf, not a count",
        ),
        (
            {"baseline.errors": [10_000.0]},
            MeasurementPhase.ERROR,
            "baseline.errors (10000) is above baseline.requests (9090): the queries do not count",
        ),
    ],
)
def test_looks_without_usable_counters_are_never_a_pass_and_keep_the_evidence(
    values: dict[str, list[float]], phase: MeasurementPhase, message: str
) -> None:
    spec = spec_of(metric(inconclusiveLimit=3, consecutiveErrorLimit=3))
    state = look(spec, start_run(spec, {}, 0), 0, reading(500, 5, 9000, 45))
    before = state.result("seq").sequential
    good = reading(510, 6, 9090, 45).values
    state = look(spec, state, 1, CounterReading({**good, **values}))
    result = state.result("seq")
    assert result.measurements[-1].phase is phase
    assert result.measurements[-1].message.startswith(message)
    assert result.sequential == before  # the next look's interval covers the gap
    assert state.phase is AnalysisPhase.RUNNING


def test_no_data_with_the_default_limit_ends_the_run_inconclusive() -> None:
    spec = spec_of(metric())
    state = look(spec, start_run(spec, {}, 0), 0, reading(500, 5, 9000, 45))
    state = look(
        spec, state, 1, CounterReading({**reading(1, 0, 1, 0).values, "canary.errors": []})
    )
    assert state.phase is AnalysisPhase.INCONCLUSIVE


def test_a_counter_reset_is_an_error_and_counting_goes_on_from_it() -> None:
    spec = spec_of(metric(count=20, sequential=sequential(minSamples=20)))
    state = start_run(spec, {}, 0)
    for t, taken in enumerate([reading(500, 0, 9000, 0), reading(510, 0, 9090, 0)]):
        state = look(spec, state, float(t), taken)
    state = look(spec, state, 2, reading(4, 0, 9180, 0))  # a canary replica restarted
    result = state.result("seq")
    assert result.measurements[-1].phase is MeasurementPhase.ERROR
    assert result.measurements[-1].message == (
        "canary.requests went down (510 -> 4): a counter was reset; counting goes on from this look"
    )
    assert result.sequential is not None and result.sequential.last.canary_requests == 4
    assert result.sequential.seen.canary_requests == 10  # the reset interval is lost, no more
    state = look(spec, state, 3, reading(14, 0, 9270, 0))
    result = state.result("seq")
    assert result.measurements[-1].phase is MeasurementPhase.SUCCESSFUL
    assert result.sequential is not None and result.sequential.seen.canary_requests == 20


def test_a_reading_for_a_metric_that_is_not_sequential_is_refused() -> None:
    spec = spec_of(
        metric(),
        {
            "name": "plain",
            "successCondition": "result[0] > 0",
            "provider": {"prometheus": {"address": "http://p", "query": "q"}},
        },
    )
    with pytest.raises(ValueError, match="metric plain is not sequential"):
        record_tick(spec, start_run(spec, {}, 0), [("plain", reading(1, 0, 1, 0))], 0)


# --- order never matters (Argo: the worst outcome of the tick) ---------------------------------

PLAIN = {
    "successCondition": "result[0] > 0",
    "provider": {"prometheus": {"address": "http://p", "query": "q"}},
}


@st.composite
def ticks_with_looks(draw: st.DrawFn) -> tuple[AnalysisTemplateSpec, list[list[tuple[str, Any]]]]:
    metrics = [
        {"name": "plain", "count": 4, "interval": "1s", **PLAIN},
        metric(name="errors", count=5, inconclusiveLimit=draw(st.integers(0, 2))),
        metric(name="latency", count=5, dryRun=draw(st.booleans())),
    ]
    phases = st.sampled_from(list(MeasurementPhase))
    counts = {"errors": [0.0, 0.0, 0.0, 0.0], "latency": [0.0, 0.0, 0.0, 0.0]}
    ticks = []
    for t in range(draw(st.integers(1, 6))):
        tick: list[tuple[str, Any]] = []
        for name in draw(st.lists(st.sampled_from(["plain", "errors", "latency"]), unique=True)):
            if name == "plain":
                tick.append((name, Measurement(phase=draw(phases), at=float(t), value=[1.0])))
                continue
            grown = [
                c + draw(st.integers(0, 40 if i % 2 == 0 else 8))
                for i, c in enumerate(counts[name])
            ]
            # errors never above requests; sometimes no data
            grown[1], grown[3] = min(grown[1], grown[0]), min(grown[3], grown[2])
            counts[name] = grown
            values = dict(
                zip(
                    ["canary.requests", "canary.errors", "baseline.requests", "baseline.errors"],
                    ([v] for v in grown),
                    strict=True,
                )
            )
            if draw(st.integers(0, 9)) == 0:
                values["canary.errors"] = []
            tick.append((name, CounterReading(values)))
        ticks.append(tick)
    return spec_of(*metrics), ticks


def play(spec: AnalysisTemplateSpec, ticks: list[list[tuple[str, Any]]]) -> AnalysisRunState:
    state = start_run(spec, {}, 0)
    for t, tick in enumerate(ticks):
        state = record_tick(spec, state, tick, float(t))
    return state


@settings(max_examples=150, deadline=None)  # a loaded machine is slow, never wrong
@given(scenario=ticks_with_looks(), data=st.data())
def test_permuting_metrics_or_looks_within_a_tick_never_changes_an_outcome(
    scenario: tuple[AnalysisTemplateSpec, list[list[tuple[str, Any]]]], data: st.DataObject
) -> None:
    spec, ticks = scenario
    reference = play(spec, ticks)
    shuffled = [data.draw(st.permutations(tick)) for tick in ticks]
    other_spec = spec.model_copy(update={"metrics": data.draw(st.permutations(spec.metrics))})
    for state in (play(spec, shuffled), play(other_spec, shuffled)):
        assert state.phase is reference.phase
        assert {r.name: r for r in state.metrics} == {r.name: r for r in reference.metrics}
