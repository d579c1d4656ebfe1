"""The analysis run state machine: measurement judging, limits, timing, outcome, persistence."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from serinus.core.analysis.run import (
    ERROR_RETRY_SECONDS,
    AnalysisPhase,
    AnalysisRunState,
    Measurement,
    MeasurementPhase,
    MetricResult,
    assess_run,
    due_metrics,
    judge,
    next_due,
    provider_error,
    record,
    render_metric,
    resolve_args,
    start_run,
    terminate,
)
from serinus.core.analysis.spec import AnalysisTemplateSpec, Metric
from serinus.core.errors import InvalidInput

NAN = math.nan
OK, FAIL, INC, ERR = (
    MeasurementPhase.SUCCESSFUL,
    MeasurementPhase.FAILED,
    MeasurementPhase.INCONCLUSIVE,
    MeasurementPhase.ERROR,
)
PROM = {"prometheus": {"address": "http://prom:9090", "query": "q"}}


def make_metric(**fields: Any) -> Metric:
    data = {"name": "m", "provider": PROM, **fields}
    if "successCondition" not in data and "failureCondition" not in data:
        data["successCondition"] = "result[0] >= 0.99"
    return Metric.model_validate(data)


def make_spec(
    *metrics: dict[str, Any], args: list[dict[str, Any]] | None = None
) -> AnalysisTemplateSpec:
    return AnalysisTemplateSpec.model_validate(
        {
            "args": args or [],
            "metrics": [
                {"provider": PROM, "successCondition": "result[0] >= 0.99", **m} for m in metrics
            ],
        }
    )


def at(phase: MeasurementPhase, now: float) -> Measurement:
    return Measurement(phase=phase, at=now, value=[1.0])


def feed(
    spec: AnalysisTemplateSpec, phases: list[MeasurementPhase], metric: str = "m", start: float = 0
) -> AnalysisRunState:
    state = start_run(spec, {}, start)
    for i, phase in enumerate(phases):
        state = record(spec, state, metric, at(phase, start + i))
    return state


# --- one measurement ---------------------------------------------------------------------------

SUCCESS = "result[0] >= 0.99"
FAILURE = "result[0] < 0.9"


@pytest.mark.parametrize(
    ("success", "failure", "values", "expected"),
    [
        (SUCCESS, None, [0.995], OK),
        (SUCCESS, None, [0.95], FAIL),  # only successCondition, false -> Failed
        (None, FAILURE, [0.95], OK),  # only failureCondition, false -> Successful
        (None, FAILURE, [0.5], FAIL),
        (SUCCESS, FAILURE, [0.995], OK),
        (SUCCESS, FAILURE, [0.5], FAIL),
        (SUCCESS, FAILURE, [0.95], INC),  # both given, neither true
        ("result[0] > 0", "result[0] > 0.5", [1.0], FAIL),  # failure wins over success
        # no data: never Successful
        (SUCCESS, None, [], INC),
        (None, FAILURE, [], INC),
        (None, FAILURE, [NAN], INC),  # NaN < 0.9 is false, which Argo would call Successful
        ("result[0] >= 0", None, [NAN], INC),
        ("len(result) >= 0", None, [], INC),
        ("all(result >= 0.5)", None, [], INC),  # all() of nothing is true: still no data
        ("all(result >= 0.5)", None, [1.0, NAN], INC),
        # a failure condition may test for no data itself
        (SUCCESS, "len(result) == 0", [], FAIL),
        (SUCCESS, "isNaN(result[0])", [NAN], FAIL),
        # a condition that does not fit the data there is an Error
        ("result[3] > 1", None, [1.0], ERR),
        ("result > 1", None, [1.0, 2.0], ERR),
    ],
)
def test_judge(
    success: str | None, failure: str | None, values: list[float], expected: MeasurementPhase
) -> None:
    fields: dict[str, Any] = {"successCondition": success, "failureCondition": failure}
    measurement = judge(make_metric(**fields), values, now=5.0)
    assert measurement.phase is expected, measurement.message
    assert measurement.at == 5.0
    assert len(measurement.value) == len(values)


def test_no_data_messages_say_why() -> None:
    metric = make_metric()
    assert judge(metric, [], 0).message == "no data: the result is empty"
    assert judge(metric, [1.0, NAN], 0).message == "no data: 1 of 2 values are NaN"


CONDITIONS = [
    "result[0] >= 0.99",
    "result < 5",
    "len(result) >= 0",
    "all(result >= 0)",
    "any(result > 0) or true",
    "!isInf(result[0])",
    "min(result) > -1000",
]


@given(
    success=st.sampled_from([None, *CONDITIONS]),
    failure=st.sampled_from([None, "result[0] > 10**6", "max(result) < -10**6"]),
    values=st.lists(st.floats(allow_nan=False, min_value=-1e3, max_value=1e3), max_size=5),
    nan_at=st.integers(min_value=-1, max_value=5),
)
def test_empty_or_nan_results_are_never_successful(
    success: str | None, failure: str | None, values: list[float], nan_at: int
) -> None:
    if success is None and failure is None:
        success = CONDITIONS[0]
    if 0 <= nan_at <= len(values):
        values = [*values[:nan_at], NAN, *values[nan_at:]]
    if values and not any(math.isnan(v) for v in values):
        values = []  # the property is about no-data results only
    metric = make_metric(successCondition=success, failureCondition=failure)
    assert judge(metric, values, 0).phase is not MeasurementPhase.SUCCESSFUL


# --- limits and outcomes -----------------------------------------------------------------------


def test_failure_limit() -> None:
    spec = make_spec({"name": "m", "count": 5, "interval": "1s", "failureLimit": 2})
    state = feed(spec, [FAIL, OK, FAIL])
    assert state.result("m").phase is AnalysisPhase.RUNNING  # 2 failures, not more than 2
    state = record(spec, state, "m", at(FAIL, 10))
    assert state.result("m").phase is AnalysisPhase.FAILED
    assert "3 failed measurements > failureLimit 2" in state.result("m").message
    assert state.phase is AnalysisPhase.FAILED and state.failed and state.finished_at == 10


def test_failure_limit_default_is_zero() -> None:
    state = feed(make_spec({"name": "m", "count": 3, "interval": "1s"}), [FAIL])
    assert state.phase is AnalysisPhase.FAILED


def test_failures_within_the_limit_still_succeed_at_count() -> None:
    spec = make_spec({"name": "m", "count": 3, "interval": "1s", "failureLimit": 1})
    state = feed(spec, [OK, FAIL, OK])
    assert state.result("m").phase is AnalysisPhase.SUCCESSFUL
    assert state.phase is AnalysisPhase.SUCCESSFUL


def test_inconclusive_limit() -> None:
    spec = make_spec({"name": "m", "count": 4, "interval": "1s", "inconclusiveLimit": 1})
    state = feed(spec, [INC, OK])
    assert state.phase is AnalysisPhase.RUNNING
    state = record(spec, state, "m", at(INC, 3))
    assert state.result("m").phase is AnalysisPhase.INCONCLUSIVE
    assert state.phase is AnalysisPhase.INCONCLUSIVE and not state.failed


def test_consecutive_error_limit_fails_the_run() -> None:
    spec = make_spec({"name": "m", "count": 2, "interval": "1s"})  # default limit 4
    state = start_run(spec, {}, 0)
    for i in range(4):
        state = record(spec, state, "m", provider_error("prometheus down", i))
    result = state.result("m")
    assert (result.phase, result.consecutive_errors, result.count) == (AnalysisPhase.RUNNING, 4, 0)
    state = record(spec, state, "m", provider_error("prometheus down", 5))
    assert state.result("m").phase is AnalysisPhase.ERROR
    assert "5 consecutive errors > consecutiveErrorLimit 4" in state.message
    assert state.phase is AnalysisPhase.ERROR and state.failed


def test_a_measurement_resets_consecutive_errors() -> None:
    spec = make_spec({"name": "m", "count": 3, "interval": "1s", "consecutiveErrorLimit": 1})
    state = feed(spec, [ERR, OK, ERR, OK, ERR, OK])
    result = state.result("m")
    assert (result.error, result.consecutive_errors, result.count) == (3, 0, 3)
    assert state.phase is AnalysisPhase.SUCCESSFUL


def test_errors_do_not_count_towards_count() -> None:
    spec = make_spec({"name": "m", "count": 2, "interval": "1s"})
    state = feed(spec, [OK, ERR])
    assert state.phase is AnalysisPhase.RUNNING
    state = record(spec, state, "m", at(OK, 9))
    assert state.phase is AnalysisPhase.SUCCESSFUL


def test_dry_run_metric_is_recorded_but_never_decides() -> None:
    spec = make_spec({"name": "real"}, {"name": "trial", "dryRun": True})
    state = start_run(spec, {}, 0)
    state = record(spec, state, "trial", at(FAIL, 1))
    assert state.result("trial").phase is AnalysisPhase.FAILED
    assert state.phase is AnalysisPhase.RUNNING  # not failed: the real metric is still to come
    state = record(spec, state, "real", at(OK, 2))
    assert state.phase is AnalysisPhase.SUCCESSFUL
    assert state.result("trial").dry_run


def test_a_failing_metric_ends_the_run_at_once() -> None:
    spec = make_spec({"name": "slow", "interval": "1m", "count": 10}, {"name": "fast", "count": 1})
    state = start_run(spec, {}, 0)
    state = record(spec, state, "fast", at(FAIL, 1))
    assert state.phase is AnalysisPhase.FAILED
    assert due_metrics(spec, state, 1000) == [] and next_due(spec, state) is None
    assert record(spec, state, "slow", at(OK, 2)) == state  # late measurements change nothing


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        ([AnalysisPhase.INCONCLUSIVE, AnalysisPhase.ERROR, AnalysisPhase.FAILED], "Failed"),
        ([AnalysisPhase.INCONCLUSIVE, AnalysisPhase.ERROR, AnalysisPhase.SUCCESSFUL], "Error"),
        ([AnalysisPhase.INCONCLUSIVE, AnalysisPhase.RUNNING], "Inconclusive"),
        ([AnalysisPhase.SUCCESSFUL, AnalysisPhase.RUNNING], "Running"),
        ([AnalysisPhase.SUCCESSFUL, AnalysisPhase.PENDING], "Running"),
        ([AnalysisPhase.SUCCESSFUL, AnalysisPhase.SUCCESSFUL], "Successful"),
    ],
)
def test_run_outcome_precedence(phases: list[AnalysisPhase], expected: str) -> None:
    results = [MetricResult(name=f"m{i}", phase=p, message="why") for i, p in enumerate(phases)]
    phase, _ = assess_run(results)
    assert phase.value == expected
    dry = [
        r.model_copy(update={"dry_run": r.phase is not AnalysisPhase.SUCCESSFUL}) for r in results
    ]
    assert assess_run(dry)[0] in (AnalysisPhase.SUCCESSFUL, AnalysisPhase.RUNNING)


def test_successful_only_when_every_metric_is_done() -> None:
    spec = make_spec({"name": "a"}, {"name": "b", "count": 2, "interval": "1s"})
    state = start_run(spec, {}, 0)
    state = record(spec, state, "a", at(OK, 0))
    state = record(spec, state, "b", at(OK, 0))
    assert state.phase is AnalysisPhase.RUNNING and state.finished_at is None
    state = record(spec, state, "b", at(OK, 1))
    assert state.phase is AnalysisPhase.SUCCESSFUL and state.message == "all metrics successful"


# --- timing ------------------------------------------------------------------------------------


def test_initial_delay_interval_and_count() -> None:
    spec = make_spec({"name": "m", "initialDelay": "30s", "interval": "10s", "count": 3})
    state = start_run(spec, {}, 100)
    assert next_due(spec, state) == 130
    assert due_metrics(spec, state, 129.9) == []
    assert [m.name for m in due_metrics(spec, state, 130)] == ["m"]
    state = record(spec, state, "m", at(OK, 131))
    assert next_due(spec, state) == 141
    assert due_metrics(spec, state, 140) == []
    state = record(spec, state, "m", at(OK, 141))
    state = record(spec, state, "m", at(OK, 151))
    assert state.phase is AnalysisPhase.SUCCESSFUL
    assert next_due(spec, state) is None


def test_without_interval_one_measurement_then_done() -> None:
    spec = make_spec({"name": "m"})
    state = start_run(spec, {}, 0)
    assert next_due(spec, state) == 0
    state = record(spec, state, "m", at(OK, 0))
    assert state.phase is AnalysisPhase.SUCCESSFUL and next_due(spec, state) is None


def test_errors_are_retried_after_the_interval_or_the_default_retry() -> None:
    with_interval = make_spec({"name": "m", "interval": "3s", "count": 2})
    state = record(with_interval, start_run(with_interval, {}, 0), "m", provider_error("x", 0))
    assert next_due(with_interval, state) == 3
    single = make_spec({"name": "m"})
    state = record(single, start_run(single, {}, 0), "m", provider_error("x", 0))
    assert next_due(single, state) == ERROR_RETRY_SECONDS


def test_next_due_is_the_earliest_metric() -> None:
    spec = make_spec({"name": "a", "initialDelay": "1m"}, {"name": "b", "initialDelay": "5s"})
    state = start_run(spec, {}, 0)
    assert next_due(spec, state) == 5
    state = record(spec, state, "b", at(OK, 5))
    assert next_due(spec, state) == 60


def test_indefinite_metric_until_terminated() -> None:
    spec = make_spec({"name": "m", "interval": "10s"})
    state = start_run(spec, {}, 0, background=True)
    for i in range(20):
        assert due_metrics(spec, state, i * 10)
        state = record(spec, state, "m", at(OK, i * 10))
    assert state.phase is AnalysisPhase.RUNNING and state.background
    assert next_due(spec, state) == 200
    state = terminate(spec, state, 205, "rollout completed")
    assert state.phase is AnalysisPhase.SUCCESSFUL and state.finished_at == 205
    assert "rollout completed after 20 measurements" in state.result("m").message


def test_terminating_before_any_data_is_not_success() -> None:
    spec = make_spec({"name": "m", "interval": "10s", "initialDelay": "5m"})
    state = terminate(spec, start_run(spec, {}, 0), 60)
    assert state.phase is AnalysisPhase.INCONCLUSIVE
    assert "before any successful measurement" in state.message


def test_measurement_history_is_bounded_but_counters_are_not() -> None:
    spec = make_spec({"name": "m", "interval": "1s"})
    state = feed(spec, [OK] * 120)
    result = state.result("m")
    assert result.count == 120 and len(result.measurements) == 50
    assert result.measurements[-1].at == 119


# --- arguments ---------------------------------------------------------------------------------


def test_arguments_defaults_overrides_and_missing() -> None:
    spec = make_spec(
        {
            "name": "m",
            "successCondition": "result[0] < {{args.limit}}",
            "provider": {
                "prometheus": {
                    "address": "http://prom:9090",
                    "query": 'errors{service="{{args.service}}", {{canary.selector}}}',
                }
            },
        },
        args=[{"name": "service"}, {"name": "limit", "value": "0.05"}],
    )
    with pytest.raises(InvalidInput, match=r"args.service: required argument has no value"):
        start_run(spec, {}, 0)
    with pytest.raises(InvalidInput, match=r"unknown variable \{\{canary.selector\}\}"):
        start_run(spec, {"service": "api"}, 0)
    args = {"service": "api", "canary.selector": 'color="green"', "limit": "0.1"}
    state = start_run(spec, args, 0)
    assert state.args == args
    rendered = render_metric(spec.metrics[0], state.args)
    assert rendered.provider is not None and rendered.provider.prometheus is not None
    assert rendered.provider.prometheus.query == 'errors{service="api", color="green"}'
    assert rendered.success_condition == "result[0] < 0.1"
    assert resolve_args(spec, {"service": "x"})["limit"] == "0.05"


def test_an_argument_that_breaks_a_condition_is_rejected_at_start() -> None:
    spec = make_spec(
        {"name": "m", "successCondition": "result[0] < {{args.limit}}"},
        args=[{"name": "limit"}],
    )
    with pytest.raises(InvalidInput, match="successCondition"):
        start_run(spec, {"limit": "__import__('os')"}, 0)


# --- persistence -------------------------------------------------------------------------------


def test_state_round_trips_through_json_with_nan_and_infinity() -> None:
    spec = make_spec({"name": "m", "count": 3, "interval": "1s", "inconclusiveLimit": 5})
    state = start_run(spec, {"x": "1"}, 0)
    state = record(spec, state, "m", judge(spec.metrics[0], [NAN], 1))
    state = record(spec, state, "m", judge(spec.metrics[0], [math.inf, -math.inf, 0.5], 2))
    stored = json.dumps(state.to_storage(), allow_nan=False)  # strict JSON: no NaN literals
    loaded = AnalysisRunState.from_storage(json.loads(stored))
    assert math.isnan(loaded.result("m").measurements[0].value[0])
    assert loaded.result("m").measurements[1].value == [math.inf, -math.inf, 0.5]
    assert loaded.to_storage() == state.to_storage()
    with pytest.raises(ValidationError):  # frozen: a state changes only through the functions
        state.phase = AnalysisPhase.FAILED  # type: ignore[misc]
