"""A comparison metric's measurement: canary against baseline through the comparative judge.

The judge (`serinus.core.judge.classify_metric`, Kayenta's NetflixACAJudge rules) classifies the
two samples; the classification becomes the measurement's phase:

    Pass -> Successful        High, Low -> Failed        NodataFailMetric -> Failed
    Nodata -> Inconclusive (missing data is never success)      Error -> Error

The judge's figures (p-value, statistic, shift estimate and interval, effect size, sample
counts, reason) are kept in the measurement's `details` for reports.
"""

from __future__ import annotations

from collections.abc import Sequence

from serinus.core.analysis.run import Measurement, MeasurementPhase
from serinus.core.analysis.spec import Metric
from serinus.core.judge.classify import classify_metric
from serinus.core.judge.report import Classification

PHASE_OF = {
    Classification.PASS: MeasurementPhase.SUCCESSFUL,
    Classification.HIGH: MeasurementPhase.FAILED,
    Classification.LOW: MeasurementPhase.FAILED,
    Classification.NODATA_FAIL_METRIC: MeasurementPhase.FAILED,
    Classification.NODATA: MeasurementPhase.INCONCLUSIVE,
    Classification.ERROR: MeasurementPhase.ERROR,
}


def judge_comparison(
    metric: Metric, baseline: Sequence[float], canary: Sequence[float], now: float
) -> Measurement:
    if metric.comparison is None:
        raise ValueError(f"metric {metric.name} is not a comparison")
    result = classify_metric(
        metric.name,
        list(canary),
        list(baseline),
        metric.comparison.canary_config,
        metric.comparison.judge,
    )
    details: dict[str, float | str] = {"classification": result.classification.value}
    for key, value in result.to_json().items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            details[key] = float(value)
    return Measurement(
        phase=PHASE_OF[result.classification],
        at=now,
        message=f"{result.classification.value}: {result.reason}",
        details=details,
    )
