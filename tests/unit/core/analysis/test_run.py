"""The analysis run state machine: measurement judging, limits, timing, outcome, persistence."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from serinus.core.analysis.expressions import EvaluationError, parse_condition
from serinus.core.analysis.run import (
    ERROR_RETRY_SECONDS,
    AnalysisPhase,
    AnalysisRunState,
    Measurement,
    MeasurementPhase,
    MetricResult,
    assess_run,
    due_measurements,
    due_metrics,
    judge,
    next_due,
    provider_error,
    record,
    record_tick,
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
        ("len(result) >= 0", None, [], INC),
        ("all(result >= 0.5)", None, [], INC),  # all() of nothing is true: still no data
        # a stated failure wins over the no-data rule (no data only makes outcomes stricter)
        ("result[0] >= 0", None, [NAN], FAIL),  # NaN >= 0 is false: successCondition not met
        ("all(result >= 0.5)", None, [1.0, NAN], FAIL),
        ("len(result) > 0 && result[0] >= 0.95", None, [], FAIL),  # Argo's documented idiom
        (SUCCESS, "result[0] < 0.5", [0.1, NAN], FAIL),
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


def argo_outcome(metric: Metric, values: list[float]) -> MeasurementPhase:
    """Argo Rollouts' reading of the conditions alone (no no-data rule), written out directly."""

    def holds(text: str | None) -> bool | None:
        return None if text is None else parse_condition(text).evaluate(values)

    try:
        failure, success = holds(metric.failure_condition), holds(metric.success_condition)
    except EvaluationError:
        return ERR
    if failure:
        return FAIL
    if success is None or success:
        return OK
    return FAIL if failure is None else INC


SEVERITY = {OK: 0, INC: 1, ERR: 1, FAIL: 2}


@given(
    success=st.sampled_from([None, *CONDITIONS, "len(result) > 0 && result[0] >= 0.95"]),
    failure=st.sampled_from([None, "result[0] > 10**6", "len(result) == 0", "result[0] < 0"]),
    values=st.lists(
        st.floats(min_value=-1e3, max_value=1e3) | st.just(NAN),
        max_size=4,
    ),
)
def test_no_data_never_makes_an_outcome_more_lenient(
    success: str | None, failure: str | None, values: list[float]
) -> None:
    if success is None and failure is None:
        success = CONDITIONS[0]
    metric = make_metric(successCondition=success, failureCondition=failure)
    outcome = judge(metric, values, 0).phase
    stated = argo_outcome(metric, values)
    assert SEVERITY[outcome] >= SEVERITY[stated]
    if stated is FAIL:
        assert outcome is FAIL  # a stated failure is never turned into a pause
    if not values or any(math.isnan(v) for v in values):
        assert outcome in (INC, FAIL)
    elif stated is ERR and outcome is FAIL:
        # The one difference with data (docs/analysis-semantics.md): Argo evaluates the success
        # condition first and stops at its error; serinus fails on a failure condition that holds.
        assert metric.failure_condition is not None
        assert parse_condition(metric.failure_condition).evaluate(values)
    else:
        assert outcome is stated  # with data, exactly Argo's outcome


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


# --- one tick, whatever the order --------------------------------------------------------------


@pytest.mark.parametrize("template_order", [("inc", "bad"), ("bad", "inc")])
@pytest.mark.parametrize("tick_order", [("inc", "bad"), ("bad", "inc")])
def test_a_tick_ends_with_the_worst_outcome_whatever_the_order(
    template_order: tuple[str, str], tick_order: tuple[str, str]
) -> None:
    # The defect this fixes: recorded one by one, the first decided metric ended the run and the
    # Failed measurement after it was dropped (Inconclusive, a pause, where Argo aborts).
    spec = make_spec(*({"name": name} for name in template_order))
    phases = {"inc": INC, "bad": FAIL}
    tick = [(name, at(phases[name], 1)) for name in tick_order]
    state = record_tick(spec, start_run(spec, {}, 0), tick, 1)
    assert state.phase is AnalysisPhase.FAILED
    assert state.result("inc").phase is AnalysisPhase.INCONCLUSIVE  # both measurements are kept
    assert state.result("bad").phase is AnalysisPhase.FAILED
    assert state.finished_at == 1


def test_a_tick_holds_one_measurement_per_known_metric() -> None:
    spec = make_spec({"name": "a"}, {"name": "b"})
    state = start_run(spec, {}, 0)
    with pytest.raises(ValueError, match="one measurement per metric"):
        record_tick(spec, state, [("a", at(OK, 1)), ("a", at(FAIL, 1))], 1)
    with pytest.raises(KeyError, match="nope"):
        record_tick(spec, state, [("nope", at(OK, 1))], 1)


def test_due_measurements_are_rendered_with_the_run_arguments() -> None:
    spec = make_spec(
        {"name": "m", "successCondition": "result[0] >= {{args.min}}"},
        args=[{"name": "min", "value": "0.5"}],
    )
    (metric,) = due_measurements(spec, start_run(spec, {}, 0), 0)
    assert metric.success_condition == "result[0] >= 0.5"
    assert judge(metric, [0.6], 0).phase is OK


PHASES = st.sampled_from([OK, FAIL, INC, ERR])
LIMITS = st.integers(min_value=0, max_value=3)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AnalysisTemplateSpec, list[list[tuple[str, Measurement]]]]:
    count = draw(st.integers(min_value=2, max_value=4))
    metrics = []
    for i in range(count):
        runs = draw(st.integers(min_value=2, max_value=4))
        limits = st.integers(min_value=0, max_value=runs - 1)
        metrics.append(
            {
                "name": f"m{i}",
                "count": runs,
                "interval": "1s",
                "failureLimit": draw(limits),
                "inconclusiveLimit": draw(limits),
                "consecutiveErrorLimit": draw(LIMITS),
                "dryRun": draw(st.booleans()),
            }
        )
    ticks = []
    for t in range(draw(st.integers(min_value=1, max_value=6))):
        names = draw(st.lists(st.sampled_from([m["name"] for m in metrics]), unique=True))
        ticks.append([(name, at(draw(PHASES), float(t + 1))) for name in names])
    return make_spec(*metrics), ticks


def play(
    spec: AnalysisTemplateSpec, ticks: list[list[tuple[str, Measurement]]]
) -> AnalysisRunState:
    state = start_run(spec, {}, 0)
    for tick in ticks:
        state = record_tick(spec, state, tick, tick[0][1].at if tick else state.started_at)
    return state


def by_name(state: AnalysisRunState) -> dict[str, MetricResult]:
    return {result.name: result for result in state.metrics}


@given(scenario=scenarios(), data=st.data())
def test_permuting_metrics_or_measurements_never_changes_an_outcome(
    scenario: tuple[AnalysisTemplateSpec, list[list[tuple[str, Measurement]]]], data: st.DataObject
) -> None:
    spec, ticks = scenario
    reference = play(spec, ticks)
    shuffled_ticks = [data.draw(st.permutations(tick)) for tick in ticks]
    shuffled_spec = spec.model_copy(update={"metrics": data.draw(st.permutations(spec.metrics))})
    for state in (play(spec, shuffled_ticks), play(shuffled_spec, shuffled_ticks)):
        assert state.phase is reference.phase
        assert state.finished_at == reference.finished_at
        assert by_name(state) == by_name(reference)
    # and the run's outcome is the worst of the deciding metrics' outcomes (Argo's order)
    worst = [AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE]
    deciding = {r.phase for r in reference.metrics if not r.dry_run}
    decided = next((phase for phase in worst if phase in deciding), None)
    if decided is not None:
        assert reference.phase is decided


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


@pytest.mark.parametrize("interval", [None, "3s", "1m"])
def test_errors_are_retried_after_a_fixed_delay_whatever_the_interval(
    interval: str | None,
) -> None:
    # Argo Rollouts' controller: DefaultErrorRetryInterval (10 s), whatever metric.interval says.
    fields: dict[str, Any] = {"name": "m", "count": 1}
    if interval is not None:
        fields |= {"interval": interval, "count": 2}
    spec = make_spec(fields)
    state = record(spec, start_run(spec, {}, 0), "m", provider_error("x", 0))
    assert ERROR_RETRY_SECONDS == 10.0
    assert next_due(spec, state) == ERROR_RETRY_SECONDS
    assert due_metrics(spec, state, 9.99) == []
    assert [m.name for m in due_metrics(spec, state, 10)] == ["m"]


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
    spec = make_spec(
        {
            "name": "m",
            "count": 3,
            "interval": "1s",
            "inconclusiveLimit": 3,
            "successCondition": None,
            "failureCondition": "result[0] < -1",
        }
    )
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
