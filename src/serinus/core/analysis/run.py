"""The analysis run: a pure state machine over measurements, with Argo Rollouts' semantics.

A tick is one round trip: `due_measurements` says which (rendered) metrics are due at `now`, the
app measures all of them at once, and `record_tick` folds the whole tick in before the run is
assessed, so the outcome never depends on the order of metrics or of the measurements in a tick.
Nothing here reads a clock or does I/O, and the state is a frozen, JSON round-trippable model
persisted in the rollout's status. The full table against Argo is docs/analysis-semantics.md.

Per measurement: by the metric's conditions (`conditions.judge`, Argo's rules and the no-data
rule), by the comparative judge (`comparison`), or, for a sequential metric, by the evidence
carried from look to look (`looks.judge_look`, folded in here from the counters the app read).

Per metric (`assess_metric`), in this order: Failed when failed > failureLimit; Inconclusive when
inconclusive > inconclusiveLimit; Error when consecutive errors > consecutiveErrorLimit; Successful
when `count` measurements were taken (a sequential metric: and its canary had `minSamples`
requests, else Inconclusive); Running otherwise (Pending before the first).

Per run (`assess_run`): the worst outcome of the metrics that are not `dryRun`, in Argo's order
Failed > Error > Inconclusive; any of these ends the run at once and the remaining metrics are
not measured again; else Successful when every metric is done; Running otherwise. `dryRun`
metrics are measured and reported like the others but never decide the outcome. Error is a
failure as far as the rollout is concerned (`AnalysisRunState.failed`).

Timing: the first measurement of a metric is due `initialDelay` after the run started, the next one
`interval` after the previous one; after an Error, `ERROR_RETRY_SECONDS` (10 s) after it, whatever
the interval, as Argo Rollouts' controller does. A metric with an `interval` and no `count` runs
until the run is terminated (background analysis across steps); `terminate` then counts it
Successful if it had at least one successful measurement and no breach, Inconclusive if it had
none (no data is never success).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from serinus.core.analysis.conditions import judge, provider_error
from serinus.core.analysis.looks import CounterReading, enough_samples, judge_look
from serinus.core.analysis.spec import AnalysisTemplateSpec, Metric
from serinus.core.analysis.state import (
    AnalysisPhase,
    AnalysisRunState,
    JsonFloat,
    Measurement,
    MeasurementPhase,
    MetricResult,
)
from serinus.core.analysis.templating import render_data
from serinus.core.documents import validate_model
from serinus.core.errors import InvalidInput

# the state's models are what callers of the run read: importers find them here too
__all__ = [
    "ERROR_RETRY_SECONDS",
    "MEASUREMENT_RETENTION",
    "AnalysisPhase",
    "AnalysisRunState",
    "CounterReading",
    "JsonFloat",
    "Measurement",
    "MeasurementPhase",
    "MetricResult",
    "Tick",
    "assess_metric",
    "assess_run",
    "due_measurements",
    "due_metrics",
    "judge",
    "metric_due_at",
    "next_due",
    "provider_error",
    "record",
    "record_tick",
    "render_metric",
    "resolve_args",
    "start_run",
    "terminate",
]

ERROR_RETRY_SECONDS = 10.0
MEASUREMENT_RETENTION = 50

# --- starting: arguments -----------------------------------------------------------------------


def resolve_args(spec: AnalysisTemplateSpec, supplied: Mapping[str, str]) -> dict[str, str]:
    """Declared defaults overridden by the caller; extra caller variables (e.g. the engine's
    `canary.selector`) pass through. A declared argument with no value is an error naming it."""
    values = {arg.name: arg.value for arg in spec.args if arg.value is not None}
    values.update(supplied)
    missing = [arg.name for arg in spec.args if arg.name not in values]
    if missing:
        raise InvalidInput(
            [
                f"args.{name}: required argument has no value (pass --arg {name}=...)"
                for name in missing
            ],
            "analysis arguments",
        )
    return values


def render_metric(metric: Metric, args: Mapping[str, str]) -> Metric:
    """The metric with every `{{variable}}` filled in (provider fields and conditions)."""
    data = metric.model_dump(by_alias=True, exclude_none=True)
    rendered = render_data(data, args, f"metrics.{metric.name}")
    return validate_model(Metric, rendered, "analysis template", f"metrics.{metric.name}")


def start_run(
    spec: AnalysisTemplateSpec,
    args: Mapping[str, str],
    now: float,
    *,
    name: str = "",
    background: bool = False,
) -> AnalysisRunState:
    """A new run; every metric is rendered once so a missing variable fails now, not later."""
    resolved = resolve_args(spec, args)
    for metric in spec.metrics:
        render_metric(metric, resolved)
    return AnalysisRunState(
        name=name,
        started_at=now,
        background=background,
        args=resolved,
        metrics=[MetricResult(name=m.name, dry_run=m.dry_run) for m in spec.metrics],
    )


# --- timing ------------------------------------------------------------------------------------


def metric_due_at(metric: Metric, result: MetricResult, started_at: float) -> float | None:
    """When this metric's next measurement is due; None when it takes no more."""
    if result.phase.completed:
        return None
    last = result.last
    if last is None:
        return started_at + metric.initial_delay
    if last.phase is MeasurementPhase.ERROR:
        # As Argo Rollouts: an error is retried after a fixed delay, whatever the interval.
        return last.at + ERROR_RETRY_SECONDS
    count = metric.effective_count
    if count is not None and result.count >= count:
        return None
    if metric.interval is not None:
        return last.at + metric.interval
    return last.at  # count > 1 without an interval: back to back


def due_metrics(spec: AnalysisTemplateSpec, state: AnalysisRunState, now: float) -> list[Metric]:
    """The metrics to measure now, as the template writes them (none once the run is completed)."""
    if state.completed:
        return []
    return [
        metric
        for metric in spec.metrics
        if (at := metric_due_at(metric, state.result(metric.name), state.started_at)) is not None
        and at <= now
    ]


def due_measurements(
    spec: AnalysisTemplateSpec, state: AnalysisRunState, now: float
) -> list[Metric]:
    """The first half of a tick: every metric due at `now`, rendered with the run's arguments.

    The caller measures all of them (in any order, concurrently) and hands the whole tick back to
    `record_tick`.
    """
    return [render_metric(metric, state.args) for metric in due_metrics(spec, state, now)]


def next_due(spec: AnalysisTemplateSpec, state: AnalysisRunState) -> float | None:
    """The earliest time a measurement is due (maybe in the past); None when nothing is left."""
    if state.completed:
        return None
    times = [
        at
        for metric in spec.metrics
        if (at := metric_due_at(metric, state.result(metric.name), state.started_at)) is not None
    ]
    return min(times, default=None)


# --- folding measurements in -------------------------------------------------------------------


def assess_metric(metric: Metric, result: MetricResult) -> tuple[AnalysisPhase, str]:
    if result.phase.completed:
        return result.phase, result.message
    if result.last is None:
        return AnalysisPhase.PENDING, ""
    if result.failed > metric.failure_limit:
        if metric.sequential is not None and result.last is not None:
            return AnalysisPhase.FAILED, result.last.message  # the evidence says why
        return AnalysisPhase.FAILED, (
            f"{result.failed} failed measurements > failureLimit {metric.failure_limit}"
        )
    if result.inconclusive > metric.inconclusive_limit:
        return AnalysisPhase.INCONCLUSIVE, (
            f"{result.inconclusive} inconclusive measurements > "
            f"inconclusiveLimit {metric.inconclusive_limit}"
        )
    if result.consecutive_errors > metric.consecutive_error_limit:
        return AnalysisPhase.ERROR, (
            f"{result.consecutive_errors} consecutive errors > "
            f"consecutiveErrorLimit {metric.consecutive_error_limit}"
        )
    count = metric.effective_count
    if count is not None and result.count >= count:
        if metric.sequential is not None and not enough_samples(metric, result.sequential):
            return AnalysisPhase.INCONCLUSIVE, _too_few(metric, result, f"{result.count} looks")
        return AnalysisPhase.SUCCESSFUL, f"{result.count} measurements within limits"
    return AnalysisPhase.RUNNING, ""


def _too_few(metric: Metric, result: MetricResult, after: str) -> str:
    assert metric.sequential is not None
    seen = result.sequential.seen.canary_requests if result.sequential is not None else 0.0
    return (
        f"{after} with {seen:g} canary requests, fewer than minSamples "
        f"{metric.sequential.min_samples}: not enough to pass"
    )


_DECIDING = (AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE)


def assess_run(results: Sequence[MetricResult]) -> tuple[AnalysisPhase, str]:
    deciding = [r for r in results if not r.dry_run]
    for phase in _DECIDING:
        hit = [r for r in deciding if r.phase is phase]
        if hit:
            # The phase is the run's own field; the message says why (callers name the phase).
            return phase, "; ".join(f"{r.name}: {r.message}" for r in hit)
    if all(r.phase.completed for r in results):
        return AnalysisPhase.SUCCESSFUL, "all metrics successful"
    return AnalysisPhase.RUNNING, ""


def _with_measurement(result: MetricResult, measurement: Measurement) -> MetricResult:
    counters: dict[str, int] = {
        "count": result.count,
        "successful": result.successful,
        "failed": result.failed,
        "inconclusive": result.inconclusive,
        "error": result.error,
        "consecutive_errors": 0,
    }
    if measurement.phase is MeasurementPhase.ERROR:
        counters["error"] += 1
        counters["consecutive_errors"] = result.consecutive_errors + 1
    else:
        counters["count"] += 1
        counters[measurement.phase.value.lower()] += 1
    measurements = [*result.measurements, measurement][-MEASUREMENT_RETENTION:]
    return result.model_copy(update={**counters, "measurements": measurements})


def _reassessed(
    spec: AnalysisTemplateSpec, state: AnalysisRunState, results: list[MetricResult], now: float
) -> AnalysisRunState:
    phase, message = assess_run(results)
    return state.model_copy(
        update={
            "metrics": results,
            "phase": phase,
            "message": message,
            "finished_at": now if phase.completed else None,
        }
    )


# A sequential metric's look arrives as the raw counters it read; the core judges them against
# the evidence the run carries (`looks.judge_look`).
Tick = Sequence[tuple[str, Measurement | CounterReading]]


def _folded(
    metric: Metric, result: MetricResult, taken: Measurement | CounterReading, now: float
) -> tuple[MetricResult, Measurement]:
    if isinstance(taken, Measurement):
        return _with_measurement(result, taken), taken
    if metric.sequential is None:
        raise ValueError(f"metric {metric.name} is not sequential: it takes measurements")
    measurement, sequential = judge_look(metric, result.sequential, taken, now)
    updated = _with_measurement(result, measurement)
    return updated.model_copy(update={"sequential": sequential}), measurement


def record_tick(
    spec: AnalysisTemplateSpec, state: AnalysisRunState, tick: Tick, now: float
) -> AnalysisRunState:
    """The second half of a tick: fold every measurement taken at one time in, then assess once.

    `tick` holds at most one measurement per metric, in any order: each metric takes its own
    measurement, and only then is the run assessed, so the outcome is the worst of the metrics'
    outcomes whatever the order. A completed run, or a metric that is already decided, ignores
    what arrives late.
    """
    names = [name for name, _ in tick]
    if len(set(names)) != len(names):
        raise ValueError(f"a tick holds one measurement per metric (got {sorted(names)})")
    if state.completed:
        return state
    by_name = dict(tick)
    results: list[MetricResult] = []
    for result in state.metrics:
        taken = by_name.pop(result.name, None)
        if taken is None or result.phase.completed:
            results.append(result)
            continue
        metric = spec.metric(result.name)
        updated, measurement = _folded(metric, result, taken, now)
        phase, message = assess_metric(metric, updated)
        results.append(
            updated.model_copy(update={"phase": phase, "message": message or measurement.message})
        )
    if by_name:
        raise KeyError(f"no metric named {', '.join(sorted(by_name))} in this run")
    return _reassessed(spec, state, results, now)


def record(
    spec: AnalysisTemplateSpec, state: AnalysisRunState, metric_name: str, measurement: Measurement
) -> AnalysisRunState:
    """Fold one measurement in (a tick of one)."""
    return record_tick(spec, state, [(metric_name, measurement)], measurement.at)


def terminate(
    spec: AnalysisTemplateSpec, state: AnalysisRunState, now: float, reason: str = "terminated"
) -> AnalysisRunState:
    """Stop a run (background analysis at the end of the rollout, or a user's request)."""
    if state.completed:
        return state
    results: list[MetricResult] = []
    for result in state.metrics:
        metric = spec.metric(result.name)
        if result.phase.completed:
            results.append(result)
        elif metric.sequential is not None and not enough_samples(metric, result.sequential):
            message = _too_few(metric, result, f"{reason} after {result.count} looks")
            update = {"phase": AnalysisPhase.INCONCLUSIVE, "message": message}
            results.append(result.model_copy(update=update))
        elif result.successful > 0:
            results.append(
                result.model_copy(
                    update={
                        "phase": AnalysisPhase.SUCCESSFUL,
                        "message": f"{reason} after {result.count} measurements within limits",
                    }
                )
            )
        else:
            results.append(
                result.model_copy(
                    update={
                        "phase": AnalysisPhase.INCONCLUSIVE,
                        "message": f"{reason} before any successful measurement",
                    }
                )
            )
    return _reassessed(spec, state, results, now)
