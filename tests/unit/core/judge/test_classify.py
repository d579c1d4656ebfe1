"""Per-metric classification: Kayenta's rules, edge cases and the differences serinus keeps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from serinus.core.judge.canary_config import CanaryAnalysis, JudgeConfigurations
from serinus.core.judge.classify import classify_metric
from serinus.core.judge.report import Classification

NAN = float("nan")
JUDGE = JudgeConfigurations()
RNG = np.random.default_rng(3)
BASE = list(RNG.normal(100, 5, 60))
SHIFTED_UP = list(RNG.normal(130, 5, 60))
SHIFTED_DOWN = list(RNG.normal(70, 5, 60))
SAME_LEVEL = list(RNG.normal(100, 5, 60))


def analysis(**fields: Any) -> CanaryAnalysis:
    return CanaryAnalysis.model_validate(fields)


def classify(canary: list[float], baseline: list[float], **fields: Any) -> Any:
    return classify_metric("m", canary, baseline, analysis(**fields), JUDGE)


@pytest.mark.parametrize(
    ("direction", "canary", "expected"),
    [
        ("either", SHIFTED_UP, Classification.HIGH),
        ("either", SHIFTED_DOWN, Classification.LOW),
        ("increase", SHIFTED_UP, Classification.HIGH),
        ("increase", SHIFTED_DOWN, Classification.PASS),
        ("decrease", SHIFTED_DOWN, Classification.LOW),
        ("decrease", SHIFTED_UP, Classification.PASS),
        ("either", SAME_LEVEL, Classification.PASS),
    ],
)
def test_directions(direction: str, canary: list[float], expected: Classification) -> None:
    result = classify(canary, BASE, direction=direction)
    assert result.classification is expected
    assert result.canary_count == 60 and result.baseline_count == 60
    if expected is Classification.PASS and canary is not SAME_LEVEL:
        assert "only watches" in result.reason


def test_tolerance_band_scales_with_the_estimate() -> None:
    # A tiny but certain shift: the interval sits above zero, inside 0.25 * |estimate|? No:
    # a constant shift d has the interval [d, d], above the band 0.25 d, so it is High; with a
    # tolerance of 1.5 the band (1.5 d) swallows it.
    canary, baseline = [10.5] * 10, [10.0] * 10
    assert classify(canary, baseline).classification is Classification.HIGH
    wide = JudgeConfigurations(tolerance=1.5)
    result = classify_metric("m", canary, baseline, analysis(), wide)
    assert result.classification is Classification.PASS


def test_effect_size_gate_downgrades_a_small_increase_to_pass() -> None:
    result = classify(SHIFTED_UP, BASE, effectSize={"allowedIncrease": 1.5})
    assert result.classification is Classification.PASS
    assert "below allowedIncrease 1.5" in result.reason
    result = classify(SHIFTED_DOWN, BASE, effectSize={"allowedDecrease": 0.5})
    assert result.classification is Classification.PASS
    assert classify(SHIFTED_UP, BASE, effectSize={"allowedIncrease": 1.2}).classification is (
        Classification.HIGH
    )


def test_cles_effect_size() -> None:
    result = classify(SHIFTED_UP, BASE, effectSize={"measure": "cles"})
    assert result.effect_size == pytest.approx(result.statistic / 3600)
    assert result.classification is Classification.HIGH
    gated = classify(SHIFTED_UP, BASE, effectSize={"measure": "cles", "allowedIncrease": 1.01})
    assert gated.classification is Classification.PASS


def test_critical_thresholds() -> None:
    ratio = np.mean(SHIFTED_UP) / np.mean(BASE)  # about 1.3
    hard = classify(SHIFTED_UP, BASE, critical=True, effectSize={"criticalIncrease": 1.2})
    assert hard.classification is Classification.HIGH and hard.critical
    soft = classify(SHIFTED_UP, BASE, critical=True, effectSize={"criticalIncrease": ratio + 0.1})
    assert soft.classification is Classification.HIGH and not soft.critical
    assert not classify(SHIFTED_UP, BASE).critical  # not a critical metric
    low = classify(SHIFTED_DOWN, BASE, critical=True)
    assert low.classification is Classification.LOW and low.critical
    legacy = classify(SHIFTED_UP, BASE, criticality="critical")
    assert legacy.critical


@pytest.mark.parametrize("strategy", ["remove", "replace"])
def test_an_empty_side_is_never_a_pass(strategy: str) -> None:
    for canary, baseline in (([], BASE), (BASE, []), ([], [])):
        result = classify(canary, baseline, nanStrategy=strategy)
        assert result.classification is Classification.NODATA
        assert result.p_value is None
    assert "no canary data" in classify([], BASE).reason
    assert "no baseline and no canary data" in classify([], []).reason


def test_no_data_with_must_have_data_or_critical_fails_the_metric() -> None:
    required = classify([], BASE, mustHaveData=True)
    assert required.classification is Classification.NODATA_FAIL_METRIC
    assert not required.critical
    critical = classify([NAN, NAN], BASE, critical=True)
    assert critical.classification is Classification.NODATA_FAIL_METRIC
    assert critical.critical
    assert "2 missing canary value(s) removed" in critical.reason


def test_nan_strategies() -> None:
    canary = [*SHIFTED_UP[:30], NAN, NAN]
    removed = classify(canary, BASE, nanStrategy="remove")
    assert removed.canary_count == 30
    assert removed.classification is Classification.HIGH
    replaced = classify(canary, BASE, nanStrategy="replace")
    assert replaced.canary_count == 32
    assert "2 missing canary value(s) replaced by 0" in replaced.reason
    # Counters: no samples at all on both sides means zero events on both: identical.
    zeros = classify([NAN] * 5, [NAN] * 5, nanStrategy="replace")
    assert zeros.classification is Classification.PASS
    assert zeros.effect_size is None  # both means are 0
    # A baseline without errors and a canary with errors: High with an undefined ratio.
    spike = classify(
        [3.0, 4, 5, 6, 2, 3, 4], [NAN] * 7, nanStrategy="replace", direction="increase"
    )
    assert spike.classification is Classification.HIGH
    assert spike.effect_size is None
    assert "effect-size thresholds skipped" in spike.reason


def test_zero_baseline_mean_makes_mean_ratio_undefined() -> None:
    result = classify([1.0, 2, 3, 1, 2], [-1.0, 1, -2, 2, 0], effectSize={"allowedIncrease": 100})
    assert result.effect_size is None
    assert result.to_json()["effectSize"] is None
    canary_zero = classify([0.0, 0, 0], [1.0, 2, 3])
    assert canary_zero.effect_size == 0.0


def test_identical_samples_and_all_ties_pass() -> None:
    identical = classify(BASE[::-1], BASE, direction="increase", critical=True)
    assert identical.classification is Classification.PASS
    assert identical.reason.startswith("canary and baseline data are identical")
    ties = classify([4.0] * 8, [4.0] * 3)
    assert ties.classification is Classification.PASS
    assert ties.p_value == 1.0


def test_constant_but_different_sides() -> None:
    result = classify([2.0] * 10, [1.0] * 10)
    assert result.classification is Classification.HIGH
    assert (result.estimate, result.ci_low, result.ci_high, result.effect_size) == (
        1.0,
        1.0,
        1.0,
        2.0,
    )


def test_outlier_removal() -> None:
    baseline = list(np.linspace(10, 20, 200))
    canary = [*np.linspace(10, 20, 200), 10_000.0, -10_000.0]
    kept = classify(canary, baseline)
    assert kept.canary_count == 202
    removed = classify(canary, baseline, outliers={"strategy": "remove"})
    assert removed.canary_count == 200
    assert "2 canary outlier(s) removed" in removed.reason
    assert removed.classification is Classification.PASS
    # A larger factor keeps what a smaller one drops (Tukey fences beyond the 1..99 percentiles).
    # Here Q1 = 12.5, Q3 = 17.5: factor 1 puts the upper fence at max(P99 = 27.8, 22.5), factor 3
    # at max(P99, 32.5).
    spread = [*np.linspace(10, 20, 200), 28.0, 30.0]

    def kept_with(factor: float) -> int:
        outliers = {"strategy": "remove", "outlierFactor": factor}
        return int(classify(spread, baseline, outliers=outliers).canary_count)

    assert kept_with(1.0) == 200
    assert kept_with(3.0) == 202


def test_numerical_errors_are_errors() -> None:
    overflow = classify([1e308, 1.5e308], [-1e308, -1.2e308], critical=True)
    assert overflow.classification is Classification.ERROR
    assert overflow.critical
    infinite = classify([float("inf"), 1.0], [1.0, 2.0])
    assert infinite.classification is Classification.ERROR


def test_muted_metrics_are_classified_but_never_critical() -> None:
    result = classify(SHIFTED_UP, BASE, critical=True, muted=True)
    assert result.classification is Classification.HIGH
    assert result.muted and not result.critical
    assert "muted" in result.reason


# --- tied data, and Kayenta's own behaviour on request --------------------------------------

KAYENTA = JudgeConfigurations(compat="kayenta")


def error_counts(rate: float, seed: int, size: int = 1000) -> list[float]:
    return list(np.random.default_rng(seed).poisson(rate, size).astype(float))


def test_mostly_zero_error_counts_are_high_when_the_test_says_so() -> None:
    # Once Pass: the interval is [0, 0] on these data (ties at 0), which never lay "above" the
    # band +0 although p ~ 1e-9. The test at the band settles it: High.
    canary, baseline = error_counts(0.06, 1), error_counts(0.005, 2)
    result = classify(canary, baseline, direction="increase")
    assert result.classification is Classification.HIGH, result.reason
    assert (result.ci_low, result.ci_high) == (0.0, 0.0) and result.p_value < 1e-6
    assert "ends at the band, on tied values" in result.reason
    healthy = classify(error_counts(0.005, 3), baseline, direction="increase")
    assert healthy.classification is Classification.PASS, healthy.reason


def test_bucketed_latencies_are_judged_on_the_test_not_on_the_rounding() -> None:
    rng = np.random.default_rng(9)
    baseline = list(np.round(rng.lognormal(np.log(0.1), 0.3, 2000), 2))
    slower = list(np.round(rng.lognormal(np.log(0.115), 0.3, 2000), 2))
    same = list(np.round(rng.lognormal(np.log(0.1), 0.3, 2000), 2))
    assert classify(slower, baseline, direction="increase").classification is Classification.HIGH
    assert classify(same, baseline, direction="increase").classification is Classification.PASS


@pytest.mark.parametrize(
    ("fields", "serinus", "kayenta", "kayenta_critical"),
    [
        ({"critical": True}, Classification.NODATA_FAIL_METRIC, Classification.NODATA, True),
        (
            {"mustHaveData": True},
            Classification.NODATA_FAIL_METRIC,
            Classification.NODATA_FAIL_METRIC,
            False,
        ),
        ({"nanStrategy": "replace"}, Classification.NODATA, Classification.PASS, False),
        ({}, Classification.NODATA, Classification.NODATA, False),
    ],
)
def test_compat_kayenta_judges_missing_data_as_kayenta_does(
    fields: dict[str, Any],
    serinus: Classification,
    kayenta: Classification,
    kayenta_critical: bool,
) -> None:
    default = classify_metric("m", [], BASE, analysis(**fields), JUDGE)
    compat = classify_metric("m", [], BASE, analysis(**fields), KAYENTA)
    assert default.classification is serinus
    assert (compat.classification, compat.critical) == (kayenta, kayenta_critical)


def test_compat_kayenta_effect_size_over_zero_means() -> None:
    # baseline mean 0: serinus skips the effect-size gate (undefined); Kayenta uses 1.0
    zeros, some = [0.0] * 30, [0.0] * 20 + [1.0] * 10
    gate = analysis(direction="increase", effectSize={"allowedIncrease": 1.2})
    default = classify_metric("m", some, zeros, gate, JUDGE)
    compat = classify_metric("m", some, zeros, gate, KAYENTA)
    assert default.classification is Classification.HIGH and default.effect_size is None
    assert compat.classification is Classification.PASS and compat.effect_size == 1.0
    # canary mean 0: Kayenta's meanRatio is NaN, which no gate lets through
    low = analysis(direction="decrease")
    assert classify_metric("m", zeros, some, low, JUDGE).classification is Classification.LOW
    compat_low = classify_metric("m", zeros, some, low, KAYENTA)
    assert compat_low.classification is Classification.PASS
    assert compat_low.to_json()["effectSize"] is None  # NaN is not JSON
