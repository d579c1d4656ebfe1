"""Classifying one metric, canary against baseline, with Kayenta's MannWhitneyClassifier rules.

My reading of Kayenta (NetflixACAJudge / MannWhitneyClassifier), and what serinus does:

1. Each side is cleaned (see `cleaning`). A side with no values left has no data: `Nodata`, or
   `NodataFailMetric` when the metric is `mustHaveData` or `critical`.
   Deliberate differences from Kayenta, because missing data must never count as success:
   Kayenta passes an empty side when `nanStrategy` is `replace` (there is nothing to replace, so
   it is still no data here), and labels a critical metric without data `Nodata (critical)`
   (here `NodataFailMetric`, critical; both force the score to 0).
2. Identical samples (same values in any order) pass, as do samples whose values are all equal.
3. Otherwise the Mann-Whitney test gives the shift estimate and its `confidenceLevel` interval.
   The tolerance band is +/- `tolerance` * |estimate| around zero (Kayenta's `calculateBounds`:
   the bounds scale with the Hodges-Lehmann estimate itself, not with the baseline). The metric is
   `High` when direction allows an increase (`increase`, `either`) and the whole interval lies above
   the band (ci_low > +band); `Low` when direction allows a decrease and the whole interval lies
   below it (ci_high < -band). A change in a direction the metric does not watch is a `Pass`.
4. The effect size is a secondary gate: `High` also needs effect >= `allowedIncrease`, `Low` needs
   effect <= `allowedDecrease` (default 1.0 for `meanRatio`, 0.5 for `cles`), otherwise `Pass`.
   When the effect size is undefined (`meanRatio` with a baseline mean of 0) the gate is skipped,
   as in Kayenta. `meanRatio` is canary mean / baseline mean (Kayenta also makes it undefined for a
   zero canary mean; here that ratio is 0, which classifies the same way and says more);
   `cles` is P(canary > baseline) + P(equal) / 2.
5. A `critical` metric classified `High` with effect >= `criticalIncrease` (or `Low` with effect <=
   `criticalDecrease`; undefined effect skips the check; defaults as in 4) is a critical failure.
   A computation that fails is `Error`, and a critical failure when the metric is critical.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from serinus.core.judge.canary_config import (
    CanaryAnalysis,
    Compat,
    Direction,
    EffectSizeMeasure,
    JudgeConfigurations,
    NanStrategy,
)
from serinus.core.judge.cleaning import CleanSample, clean
from serinus.core.judge.mannwhitney import MannWhitneyResult, mann_whitney
from serinus.core.judge.report import Classification, MetricResult


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _cleaning_note(side: str, sample: CleanSample, analysis: CanaryAnalysis) -> str:
    notes = []
    if sample.missing:
        verb = "replaced by 0" if analysis.nan_strategy.value == "replace" else "removed"
        notes.append(f"{sample.missing} missing {side} value(s) {verb}")
    if sample.outliers:
        notes.append(f"{sample.outliers} {side} outlier(s) removed")
    return "; ".join(notes)


def _kayenta_no_data(
    name: str, analysis: CanaryAnalysis, why: str, counts: tuple[int, int]
) -> MetricResult:
    """Kayenta's MannWhitneyClassifier: `replace` passes an empty side; otherwise Nodata
    (critical when the metric is), NodataFailMetric only for mustHaveData without critical."""
    baseline_count, canary_count = counts
    if analysis.nan_strategy is NanStrategy.REPLACE:
        label, why, critical = Classification.PASS, f"{why}; nanStrategy replace (Kayenta)", False
    elif analysis.must_have_data and not analysis.is_critical:
        label, critical = Classification.NODATA_FAIL_METRIC, False
    else:
        label, critical = Classification.NODATA, analysis.is_critical
    return MetricResult(
        name=name,
        classification=label,
        reason=why,
        critical=critical and not analysis.muted,
        muted=analysis.muted,
        baseline_count=baseline_count,
        canary_count=canary_count,
    )


def no_data(
    name: str,
    analysis: CanaryAnalysis,
    why: str,
    counts: tuple[int, int] = (0, 0),
    compat: Compat = Compat.SERINUS,
) -> MetricResult:
    """The result for a metric without data on a side (or absent from the input)."""
    baseline_count, canary_count = counts
    if analysis.muted:
        why += "; muted: not counted in the score"
    if compat is Compat.KAYENTA:
        return _kayenta_no_data(name, analysis, why, counts)
    if analysis.is_critical or analysis.must_have_data:
        rule = "critical" if analysis.is_critical else "mustHaveData"
        return MetricResult(
            name=name,
            classification=Classification.NODATA_FAIL_METRIC,
            reason=f"{why}; the metric is {rule}, so missing data fails it",
            critical=analysis.is_critical and not analysis.muted,
            muted=analysis.muted,
            baseline_count=baseline_count,
            canary_count=canary_count,
        )
    return MetricResult(
        name=name,
        classification=Classification.NODATA,
        reason=why,
        muted=analysis.muted,
        baseline_count=baseline_count,
        canary_count=canary_count,
    )


def effect_size(
    canary: np.ndarray,
    baseline: np.ndarray,
    test: MannWhitneyResult,
    analysis: CanaryAnalysis,
    compat: Compat = Compat.SERINUS,
) -> float | None:
    if analysis.effect_size.measure is EffectSizeMeasure.CLES:
        return test.cles
    baseline_mean, canary_mean = float(np.mean(baseline)), float(np.mean(canary))
    if compat is Compat.KAYENTA:
        # MannWhitneyClassifier.calculateDeviation: 1.0 over a zero baseline mean;
        # EffectSizes.meanRatio: NaN for a zero canary mean, and NaN passes every gate
        if baseline_mean == 0.0:
            return 1.0
        return math.nan if canary_mean == 0.0 else canary_mean / baseline_mean
    if baseline_mean == 0.0:
        return None
    return canary_mean / baseline_mean


def _decide(
    test: MannWhitneyResult,
    effect: float | None,
    analysis: CanaryAnalysis,
    judge: JudgeConfigurations,
) -> tuple[Classification, bool, str]:
    """Classification, critical failure, and why."""
    band = judge.tolerance * abs(test.estimate)
    level = f"{judge.confidence_level * 100:g}%"
    interval = f"{level} interval [{_fmt(test.ci_low)}, {_fmt(test.ci_high)}]"
    measure = analysis.effect_size.measure.value
    settings = analysis.effect_size
    neutral = settings.neutral()
    watches_increase = analysis.direction in (Direction.INCREASE, Direction.EITHER)
    watches_decrease = analysis.direction in (Direction.DECREASE, Direction.EITHER)
    # an interval end that touches the band (tied data: [0, 0]) is settled by the test at it
    above = test.rejects_above(band)
    below = test.rejects_below(-band)
    effect_text = f"{measure} {_fmt(effect)}" if effect is not None else f"{measure} undefined"
    high = above and watches_increase
    low = below and watches_decrease

    if high or low:
        if high:
            label, threshold_name, threshold = (
                Classification.HIGH,
                "allowedIncrease",
                settings.allowed_increase,
            )
            critical_name, critical_threshold = "criticalIncrease", settings.critical_increase
        else:
            label, threshold_name, threshold = (
                Classification.LOW,
                "allowedDecrease",
                settings.allowed_decrease,
            )
            critical_name, critical_threshold = "criticalDecrease", settings.critical_decrease
        allowed = neutral if threshold is None else threshold
        critical_at = neutral if critical_threshold is None else critical_threshold
        side = "above" if above else "below"
        sign = "+" if above else "-"
        shift = f"the {interval} of the shift is {side} the tolerance {sign}{_fmt(band)}"
        end = test.ci_low if above else test.ci_high
        if end == (band if above else -band):
            statistic = test.shift.at(end)
            shift += (
                f" (it ends at the band, on tied values, where the test rejects a shift of "
                f"{sign}{_fmt(band)}: z = {statistic:.3g}, beyond {sign}{test.quantile:.3g})"
            )

        def beyond(limit: float) -> bool:
            if effect is None:
                return True  # undefined effect size: the gate is skipped
            return effect >= limit if above else effect <= limit

        if not beyond(allowed):
            relation = "below" if above else "above"
            return (
                Classification.PASS,
                False,
                f"{shift}, but {effect_text} is {relation} {threshold_name} {_fmt(allowed)}",
            )
        reason = f"{shift}; {effect_text}"
        if effect is None:
            reason += " (effect-size thresholds skipped)"
        if analysis.is_critical and beyond(critical_at):
            return label, True, f"{reason}; critical failure ({critical_name} {_fmt(critical_at)})"
        return label, False, reason

    if above or below:
        change = "increase" if above else "decrease"
        return (
            Classification.PASS,
            False,
            f"significant {change} ({interval}), but the metric only watches "
            f"{analysis.direction.value}s",
        )
    return (
        Classification.PASS,
        False,
        f"no significant shift: the {interval} reaches into the tolerance +/-{_fmt(band)}",
    )


def classify_metric(
    name: str,
    canary_raw: Sequence[float],
    baseline_raw: Sequence[float],
    analysis: CanaryAnalysis,
    judge: JudgeConfigurations,
) -> MetricResult:
    canary_values = np.asarray(canary_raw, dtype=np.float64)
    baseline_values = np.asarray(baseline_raw, dtype=np.float64)
    if np.isinf(canary_values).any() or np.isinf(baseline_values).any():
        return MetricResult(
            name=name,
            classification=Classification.ERROR,
            reason="infinite values cannot be compared",
            critical=analysis.is_critical and not analysis.muted,
            muted=analysis.muted,
        )
    canary = clean(canary_values, analysis)
    baseline = clean(baseline_values, analysis)
    counts = (int(baseline.values.size), int(canary.values.size))
    notes = "; ".join(
        note
        for note in (
            _cleaning_note("baseline", baseline, analysis),
            _cleaning_note("canary", canary, analysis),
        )
        if note
    )
    suffix = f" ({notes})" if notes else ""
    empty = [side for side, s in (("baseline", baseline), ("canary", canary)) if not s.values.size]
    if empty:
        why = f"no {' and no '.join(empty)} data{suffix}"
        return no_data(name, analysis, why, counts, judge.compat)

    try:
        # Overflow or an invalid operation is a numerical error; underflow to 0 is harmless.
        with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
            # sorted once here; the test and the checks below reuse the order
            canary_sorted, baseline_sorted = np.sort(canary.values), np.sort(baseline.values)
            test = mann_whitney(canary_sorted, baseline_sorted, judge.confidence_level)
            effect = effect_size(canary_sorted, baseline_sorted, test, analysis, judge.compat)
    except (ArithmeticError, ValueError) as exc:
        return MetricResult(
            name=name,
            classification=Classification.ERROR,
            reason=f"the comparison failed: {exc}{suffix}",
            critical=analysis.is_critical and not analysis.muted,
            muted=analysis.muted,
            baseline_count=counts[0],
            canary_count=counts[1],
        )

    if np.array_equal(canary_sorted, baseline_sorted):
        label, critical, reason = (
            Classification.PASS,
            False,
            "canary and baseline data are identical",
        )
    elif canary_sorted[0] == canary_sorted[-1] == baseline_sorted[0] == baseline_sorted[-1]:
        label, critical, reason = Classification.PASS, False, "every value is the same"
    else:
        label, critical, reason = _decide(test, effect, analysis, judge)
    if analysis.muted:
        reason += "; muted: not counted in the score"
    return MetricResult(
        name=name,
        classification=label,
        reason=reason + suffix,
        critical=critical and not analysis.muted,
        muted=analysis.muted,
        p_value=test.p_value,
        statistic=test.statistic,
        estimate=test.estimate,
        ci_low=test.ci_low,
        ci_high=test.ci_high,
        effect_size=effect,
        baseline_count=counts[0],
        canary_count=counts[1],
    )
