"""Judging one measurement by its metric's conditions, with Argo Rollouts' semantics.

Per measurement (`judge`):

- a provider error is an Error measurement (it does not count towards `count`; the metric's
  consecutive-error counter grows, and any other outcome resets it);
- `failureCondition` true -> Failed, whatever else holds;
- a condition that cannot be evaluated (an index past the end) -> Error;
- otherwise as in Argo Rollouts: both conditions given and neither true -> Inconclusive; only
  `successCondition` and it is false -> Failed; only `failureCondition` and it is false ->
  Successful;
- then the **no-data** rule - an empty result, or any NaN in it: it only ever makes the outcome
  stricter. A Failed stays Failed (Argo's `len(result) > 0 && result[0] >= 0.95` on an empty
  result fails); anything else becomes Inconclusive, never Successful: a missing metric is not a
  healthy one, and Inconclusive hands the decision to a person.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from serinus.core.analysis.expressions import EvaluationError, parse_condition
from serinus.core.analysis.spec import Metric
from serinus.core.analysis.state import Measurement, MeasurementPhase


def _no_data(values: Sequence[float]) -> str | None:
    if not values:
        return "no data: the result is empty"
    nans = sum(1 for v in values if math.isnan(v))
    if nans:
        return f"no data: {nans} of {len(values)} values are NaN"
    return None


def _condition(text: str | None, values: Sequence[float]) -> bool | EvaluationError | None:
    if text is None:
        return None
    try:
        return parse_condition(text).evaluate(values)
    except EvaluationError as exc:
        return exc


def _by_conditions(metric: Metric, values: Sequence[float]) -> tuple[MeasurementPhase, str]:
    """Argo Rollouts' reading of the conditions, before the no-data rule."""
    failure = _condition(metric.failure_condition, values)
    success = _condition(metric.success_condition, values)
    if failure is True:
        return MeasurementPhase.FAILED, f"failureCondition met: {metric.failure_condition}"
    for outcome in (failure, success):
        if isinstance(outcome, EvaluationError):
            return MeasurementPhase.ERROR, f"cannot evaluate: {outcome}"
    if success is None:
        return MeasurementPhase.SUCCESSFUL, ""  # only a failureCondition, and it is false
    if success:
        return MeasurementPhase.SUCCESSFUL, ""
    if failure is None:
        return MeasurementPhase.FAILED, f"successCondition not met: {metric.success_condition}"
    return MeasurementPhase.INCONCLUSIVE, "neither successCondition nor failureCondition met"


def judge(metric: Metric, values: Sequence[float], now: float) -> Measurement:
    """A measurement of `values` by the metric's (rendered) conditions; see the module doc."""
    if metric.success_condition is None and metric.failure_condition is None:
        raise ValueError(f"metric {metric.name} has no condition to judge by")
    value = [float(v) for v in values]
    phase, message = _by_conditions(metric, value)
    no_data = _no_data(value)
    if no_data is not None and phase is not MeasurementPhase.FAILED:
        # No data only ever makes the outcome stricter: a stated failure stays a failure, and
        # anything else (a pass on nothing, an index past the end of nothing) is Inconclusive.
        phase, message = MeasurementPhase.INCONCLUSIVE, no_data
    return Measurement(phase=phase, at=now, value=value, message=message)


def provider_error(message: str, now: float) -> Measurement:
    return Measurement(phase=MeasurementPhase.ERROR, at=now, message=message)
