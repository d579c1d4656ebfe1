"""A sequential metric's look: both sides' counters read, the evidence carried one interval on.

The app reads the metric's counter queries (`Sequential.sources()`) and hands the raw results
over as a `CounterReading`; `judge_look` turns them into the look's measurement and the state
the next look starts from (`SequentialState`). Per look:

- a query that returned nothing, or NaN: **no data**, Inconclusive; the state is kept, so the
  next look's interval covers the gap (the counters are cumulative, nothing is lost);
- a query with several values, an infinite or negative count, more errors than requests (or a
  bucket above its requests): Error, the state is kept;
- a counter lower than at the last look (a restart reset it): Error; the next interval starts
  at this look, the evidence gathered so far is kept (only the reset interval is lost);
- the first good look: counting starts here, evidence 1 (Successful: no failure yet);
- then the evidence of the mixture test (`serinus.core.judge.sequential.ErrorRatioTest`) after
  the interval: Failed once it reaches `1 / alpha`, else Successful (no failure yet).

Whether the metric passes is not a look's to say: `run.assess_metric` passes it only when its
`count` of looks is done and the canary had `minSamples` requests since the first look.
Every measurement records the evidence, the boundary and both ratios in `details`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from serinus.core.analysis.spec import Metric, Sequential
from serinus.core.analysis.state import Counters, Measurement, MeasurementPhase, SequentialState
from serinus.core.judge.sequential import CounterLook, ErrorRatioTest


@dataclass(frozen=True)
class CounterReading:
    """The raw results of a look's counter queries, by name (`canary.requests`, ...)."""

    values: Mapping[str, Sequence[float]]


@cache
def _test(alpha: float) -> ErrorRatioTest:
    return ErrorRatioTest(alpha=alpha)


def _sequential(metric: Metric) -> Sequential:
    if metric.sequential is None:
        raise ValueError(f"metric {metric.name} is not sequential")
    return metric.sequential


class _Unusable(Exception):
    """A look that cannot be counted; `phase` says whether for lack of data or an error."""

    def __init__(self, phase: MeasurementPhase, message: str) -> None:
        super().__init__(message)
        self.phase = phase
        self.message = message


def _count(name: str, values: Sequence[float]) -> float:
    if not values:
        raise _Unusable(MeasurementPhase.INCONCLUSIVE, f"no data: {name} is empty")
    if any(math.isnan(v) for v in values):
        raise _Unusable(MeasurementPhase.INCONCLUSIVE, f"no data: {name} is NaN")
    if len(values) > 1:
        raise _Unusable(
            MeasurementPhase.ERROR,
            f"{name} returned {len(values)} values; a counter query must return one (sum it)",
        )
    value = float(values[0])
    if math.isinf(value) or value < 0:
        raise _Unusable(MeasurementPhase.ERROR, f"{name} is {value:g}, not a count")
    return value


def _side(spec: Sequential, reading: CounterReading, side: str) -> tuple[float, float]:
    """(requests, bad requests) of one side."""
    counts = spec.canary.counts
    requests = _count(f"{side}.requests", reading.values[f"{side}.requests"])
    other = _count(f"{side}.{counts}", reading.values[f"{side}.{counts}"])
    if other > requests:
        raise _Unusable(
            MeasurementPhase.ERROR,
            f"{side}.{counts} ({other:g}) is above {side}.requests ({requests:g}): "
            "the queries do not count the same requests",
        )
    return requests, (other if counts == "errors" else requests - other)


def read_counters(spec: Sequential, reading: CounterReading) -> Counters:
    """Both sides' counts; `_Unusable` when the look cannot be counted."""
    names = list(spec.sources())
    missing = [name for name in names if name not in reading.values]
    if missing:
        raise ValueError(f"the reading has no {', '.join(missing)}")
    # every value is checked for no data before any is checked for errors: missing data is
    # the cause whenever there is some
    for name in names:
        values = reading.values[name]
        if not values or any(math.isnan(v) for v in values):
            _count(name, values)
    canary_requests, canary_bad = _side(spec, reading, "canary")
    baseline_requests, baseline_bad = _side(spec, reading, "baseline")
    return Counters(
        canary_requests=canary_requests,
        canary_bad=canary_bad,
        baseline_requests=baseline_requests,
        baseline_bad=baseline_bad,
    )


def _look(at: float, counters: Counters) -> CounterLook:
    return CounterLook(
        at,
        counters.canary_requests,
        counters.canary_bad,
        counters.baseline_requests,
        counters.baseline_bad,
    )


_FIELDS = ("canary_requests", "canary_bad", "baseline_requests", "baseline_bad")


def _reset(before: Counters, now: Counters, counts: str) -> str | None:
    for field in _FIELDS:
        old, new = getattr(before, field), getattr(now, field)
        if new < old:
            side, what = field.split("_")
            name = f"{side}.{'requests' if what == 'requests' else counts}"
            if what == "bad" and counts == "bucket":
                name = f"{side} requests slower than the bucket"
            return f"{name} went down ({old:g} -> {new:g})"
    return None


def _ratio_text(bad: float, requests: float) -> str:
    return f"{bad / requests:.2%} of {requests:g} requests" if requests > 0 else "no requests"


def _details(
    spec: Sequential, test: ErrorRatioTest, log_evidence: float, seen: Counters
) -> dict[str, float | str]:
    bad = "errors" if spec.canary.counts == "errors" else "slow"
    details: dict[str, float | str] = {
        "evidence": math.exp(min(log_evidence, 700.0)),
        "logEvidence": log_evidence,
        "boundary": 1.0 / test.alpha,
        "minSamples": float(spec.min_samples),
        "counts": bad,
        "canaryRequests": seen.canary_requests,
        f"canary{bad.title()}": seen.canary_bad,
        "baselineRequests": seen.baseline_requests,
        f"baseline{bad.title()}": seen.baseline_bad,
    }
    for side, requests, count in (
        ("canary", seen.canary_requests, seen.canary_bad),
        ("baseline", seen.baseline_requests, seen.baseline_bad),
    ):
        if requests > 0:
            details[f"{side}Ratio"] = count / requests
    return details


def judge_look(
    metric: Metric, state: SequentialState | None, reading: CounterReading, now: float
) -> tuple[Measurement, SequentialState | None]:
    """The look's measurement and the state the next look starts from (see the module doc)."""
    spec = _sequential(metric)
    test = _test(spec.alpha)
    try:
        counters = read_counters(spec, reading)
    except _Unusable as unusable:
        return Measurement(phase=unusable.phase, at=now, message=unusable.message), state
    if state is None:
        started = SequentialState(last=counters, log_ratios=[0.0] * test.alternatives)
        message = f"first look: counting starts here (evidence 1 of {1.0 / test.alpha:g})"
        details = _details(spec, test, 0.0, started.seen)
        measurement = Measurement(
            phase=MeasurementPhase.SUCCESSFUL, at=now, value=[1.0], message=message, details=details
        )
        return measurement, started
    reset = _reset(state.last, counters, spec.canary.counts)
    if reset is not None:
        message = f"{reset}: a counter was reset; counting goes on from this look"
        restarted = state.model_copy(update={"last": counters})
        return Measurement(phase=MeasurementPhase.ERROR, at=now, message=message), restarted
    log_ratios = test.advance(state.log_ratios, _look(0.0, state.last), _look(0.0, counters))
    seen = state.seen + (counters - state.last)
    log_evidence = test.log_evidence(log_ratios)
    details = _details(spec, test, log_evidence, seen)
    evidence, boundary = float(details["evidence"]), 1.0 / test.alpha
    bad = details["counts"]
    ratios = (
        f"canary {bad} {_ratio_text(seen.canary_bad, seen.canary_requests)}, "
        f"baseline {_ratio_text(seen.baseline_bad, seen.baseline_requests)}"
    )
    if log_evidence >= test.log_boundary:
        phase = MeasurementPhase.FAILED
        message = f"evidence {evidence:.3g} reached {boundary:g} (1/alpha): {ratios}"
    else:
        phase = MeasurementPhase.SUCCESSFUL
        message = (
            f"evidence {evidence:.3g} of {boundary:g} (1/alpha): {ratios}; "
            f"{seen.canary_requests:g} of minSamples {spec.min_samples} canary requests"
        )
    measurement = Measurement(
        phase=phase, at=now, value=[evidence], message=message, details=details
    )
    return measurement, SequentialState(last=counters, seen=seen, log_ratios=log_ratios)


def enough_samples(metric: Metric, state: SequentialState | None) -> bool:
    """Whether the canary had `minSamples` requests since the first look (never before one)."""
    spec = _sequential(metric)
    return state is not None and state.seen.canary_requests >= spec.min_samples
