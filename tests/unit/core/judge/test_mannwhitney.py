"""The Mann-Whitney test, shift estimate and interval against scipy, R's rules and brute force."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import mannwhitneyu, norm, rankdata

from serinus.core.judge.mannwhitney import ShiftStatistic, mann_whitney


def r_interval_end(canary: np.ndarray, baseline: np.ndarray, zq: float) -> float:
    """R's wilcox.test interval end, literally: the root of wdiff(d) found by bisection."""
    m, n = canary.size, baseline.size

    def wdiff(d: float) -> float:
        ranks = rankdata(np.concatenate([canary - d, baseline]))
        dz = ranks[:m].sum() - m * (m + 1) / 2 - m * n / 2
        _, ties = np.unique(ranks, return_counts=True)
        sigma = np.sqrt(
            m * n / 12 * ((m + n + 1) - np.sum(ties**3 - ties) / ((m + n) * (m + n - 1)))
        )
        return float((dz - np.sign(dz) * 0.5) / sigma - zq)

    low, high = canary.min() - baseline.max(), canary.max() - baseline.min()
    if wdiff(low) <= 0:
        return float(low)
    if wdiff(high) >= 0:
        return float(high)
    for _ in range(200):  # far below R's tolerance: lands on the step
        middle = (low + high) / 2
        if wdiff(middle) > 0:
            low = middle
        else:
            high = middle
    return float((low + high) / 2)


def test_published_check_canary_10_to_40_against_baseline_1_to_4() -> None:
    result = mann_whitney(np.array([10.0, 20, 30, 40]), np.array([1.0, 2, 3, 4]), 0.95)
    assert (result.ci_low, result.ci_high) == (6.0, 39.0)
    assert result.estimate == 22.5
    assert result.statistic == 16.0  # every canary value is above every baseline value
    assert result.cles == 1.0


sample = st.lists(
    st.one_of(st.integers(0, 8).map(float), st.floats(-100, 100, allow_nan=False, width=32)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(canary=sample, baseline=sample)
def test_statistic_and_p_value_match_scipy(canary: list[float], baseline: list[float]) -> None:
    x, y = np.array(canary), np.array(baseline)
    if np.unique(np.concatenate([x, y])).size == 1:
        return  # scipy's variance is 0 there; covered by test_all_ties
    result = mann_whitney(x, y, 0.98)
    reference = mannwhitneyu(
        x, y, alternative="two-sided", method="asymptotic", use_continuity=True
    )
    assert result.statistic == pytest.approx(reference.statistic, abs=1e-9)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-15)
    assert (result.canary_count, result.baseline_count) == (x.size, y.size)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.98])
def test_estimate_and_interval_match_direct_computation(seed: int, confidence: float) -> None:
    rng = np.random.default_rng(seed)
    m, n = rng.integers(2, 30, size=2)
    x = np.round(rng.normal(0.5 * seed % 3, 1.0, m), 1)  # rounding makes ties
    y = np.round(rng.normal(0.0, 1.5, n), 1)
    result = mann_whitney(x, y, confidence)
    differences = np.sort((x[:, None] - y[None, :]).ravel())
    assert result.estimate == np.median(differences)
    z = norm.ppf(1 - (1 - confidence) / 2)
    assert result.ci_low == pytest.approx(r_interval_end(x, y, z), abs=1e-9)
    assert result.ci_high == pytest.approx(r_interval_end(x, y, -z), abs=1e-9)
    assert result.ci_low in differences and result.ci_high in differences
    assert result.ci_low <= result.estimate <= result.ci_high


def test_all_ties() -> None:
    result = mann_whitney(np.full(5, 3.0), np.full(7, 3.0), 0.98)
    assert result.p_value == 1.0
    assert result.statistic == 17.5
    assert (result.estimate, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)


def test_constant_but_different_sides_give_an_exact_shift() -> None:
    result = mann_whitney(np.full(20, 5.0), np.full(30, 2.0), 0.98)
    assert (result.estimate, result.ci_low, result.ci_high) == (3.0, 3.0, 3.0)
    reference = mannwhitneyu(np.full(20, 5.0), np.full(30, 2.0), method="asymptotic")
    assert result.p_value == pytest.approx(reference.pvalue)
    assert result.statistic == 600.0


def test_identical_samples_center_on_zero() -> None:
    values = np.array([1.0, 4.0, 2.0, 8.0, 5.0, 7.0])
    result = mann_whitney(values, values[::-1].copy(), 0.98)
    assert result.estimate == 0.0
    assert result.ci_low < 0.0 < result.ci_high
    assert result.p_value == 1.0


def test_single_values() -> None:
    result = mann_whitney(np.array([3.0]), np.array([1.0]), 0.98)
    assert (result.estimate, result.ci_low, result.ci_high) == (2.0, 2.0, 2.0)


def test_ten_thousand_samples_per_side() -> None:
    rng = np.random.default_rng(42)
    x = rng.lognormal(0.05, 0.5, 10_000)
    y = rng.lognormal(0.0, 0.5, 10_000)
    result = mann_whitney(x, y, 0.98)
    reference = mannwhitneyu(x, y, method="asymptotic", use_continuity=True)
    assert result.statistic == reference.statistic
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)

    # Count, in chunks, how many of the 10^8 differences lie below and at each reported value:
    # the estimate must be the median and the interval ends the R ranks.
    def rank_range(value: float) -> tuple[int, int]:
        below = at_or_below = 0
        for chunk in np.array_split(x, 40):
            differences = chunk[:, None] - y[None, :]
            below += int(np.count_nonzero(differences < value))
            at_or_below += int(np.count_nonzero(differences <= value))
        return below, at_or_below

    pairs = x.size * y.size
    low_below, low_at = rank_range(result.ci_low)
    high_below, high_at = rank_range(result.ci_high)
    sigma = np.sqrt(pairs / 12 * (x.size + y.size + 1))  # no ties in continuous data
    z = norm.ppf(0.99)
    expected_low = int(np.ceil(pairs / 2 - 0.5 - z * sigma))
    expected_high = int(np.ceil(pairs / 2 + 0.5 + z * sigma))
    assert low_below < expected_low <= low_at
    assert high_below < expected_high <= high_at
    mid_below, mid_at = rank_range(result.estimate)
    assert mid_below <= pairs // 2 <= mid_at


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        mann_whitney(np.array([]), np.array([1.0]), 0.98)
    with pytest.raises(ValueError, match="finite"):
        mann_whitney(np.array([np.nan]), np.array([1.0]), 0.98)
    with pytest.raises(ValueError, match="confidence"):
        mann_whitney(np.array([1.0]), np.array([2.0]), 1.0)


# --- R's statistic at any shift, and the data canaries really produce ------------------------


def r_wdiff(canary: np.ndarray, baseline: np.ndarray, d: float) -> float:
    """R's wdiff(d, zq = 0) written out directly: rank the combined sample, correct, standardise."""
    m, n = canary.size, baseline.size
    ranks = rankdata(np.concatenate([canary - d, baseline]))
    dz = ranks[:m].sum() - m * (m + 1) / 2 - m * n / 2
    _, ties = np.unique(ranks, return_counts=True)
    sigma = np.sqrt(m * n / 12 * ((m + n + 1) - np.sum(ties**3 - ties) / ((m + n) * (m + n - 1))))
    with np.errstate(invalid="ignore", divide="ignore"):  # sigma 0: every value tied, NaN
        return float((dz - np.sign(dz) * 0.5) / sigma)


@settings(max_examples=200, deadline=None)
@given(canary=sample, baseline=sample, data=st.data())
def test_shift_statistic_is_rs_statistic_at_every_shift(
    canary: list[float], baseline: list[float], data: st.DataObject
) -> None:
    x, y = np.array(canary), np.array(baseline)
    if np.unique(np.concatenate([x, y])).size == 1:
        return
    differences = (x[:, None] - y[None, :]).ravel()
    # at a pairwise difference (ties across the samples) and anywhere else
    d = data.draw(st.sampled_from(differences.tolist()) | st.floats(-300, 300))
    shift = ShiftStatistic(x, y)
    expected = r_wdiff(x, y, d)
    if np.isnan(expected):  # every value tied at d: R stops; here no evidence either way
        assert shift.at(d) == 0.0
    else:
        assert shift.at(d) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def zero_inflated(rng: np.random.Generator, rate: float, size: int) -> np.ndarray:
    """Error counts per interval: mostly 0."""
    return rng.poisson(rate, size).astype(float)


def bucketed(rng: np.random.Generator, scale: float, size: int) -> np.ndarray:
    """Latencies rounded to 10 ms buckets."""
    return np.round(rng.lognormal(np.log(scale), 0.4, size), 2)


def heavy_tailed(rng: np.random.Generator, scale: float, size: int) -> np.ndarray:
    return scale * (1.0 + rng.pareto(1.2, size))


DATA = [
    ("zero-inflated", zero_inflated, 0.05, 0.005, 400),
    ("bucketed", bucketed, 0.13, 0.10, 400),
    ("heavy-tailed", heavy_tailed, 1.3, 1.0, 300),
]


@pytest.mark.parametrize(("kind", "draw", "bad", "good", "size"), DATA)
@pytest.mark.parametrize("confidence", [0.95, 0.98])
def test_interval_ends_are_rs_roots_on_tied_and_heavy_tailed_data(
    kind: str, draw: Any, bad: float, good: float, size: int, confidence: float
) -> None:
    rng = np.random.default_rng(len(kind))
    x, y = draw(rng, bad, size), draw(rng, good, size)
    result = mann_whitney(x, y, confidence)
    z = norm.ppf(1 - (1 - confidence) / 2)
    assert result.ci_low == pytest.approx(r_interval_end(x, y, z), abs=1e-9)
    assert result.ci_high == pytest.approx(r_interval_end(x, y, -z), abs=1e-9)
    assert result.estimate == np.median((x[:, None] - y[None, :]).ravel())


def test_mostly_zero_error_counts_no_longer_pass_while_the_test_rejects() -> None:
    # The defect: 5% vs 0.5% errors per interval, p ~ 1e-9, but the interval collapses to
    # [0, 0] (the statistic jumps over both quantiles at 0), so "above the band" was false.
    rng = np.random.default_rng(11)
    canary, baseline = zero_inflated(rng, 0.06, 1000), zero_inflated(rng, 0.005, 1000)
    result = mann_whitney(canary, baseline, 0.98)
    assert result.p_value < 1e-6
    assert (result.ci_low, result.estimate, result.ci_high) == (0.0, 0.0, 0.0)  # R's roots too
    assert r_wdiff(canary, baseline, 0.0) > result.quantile  # the test at shift 0 rejects
    assert result.rejects_above(0.0) and not result.rejects_below(0.0)
    healthy = mann_whitney(zero_inflated(rng, 0.005, 1000), baseline, 0.98)
    assert not healthy.rejects_above(0.0) and not healthy.rejects_below(0.0)


def test_ten_thousand_tied_samples_against_the_direct_method() -> None:
    rng = np.random.default_rng(5)
    x, y = bucketed(rng, 0.105, 10_000), bucketed(rng, 0.1, 10_000)
    result = mann_whitney(x, y, 0.98)
    reference = mannwhitneyu(x, y, method="asymptotic", use_continuity=True)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    z = norm.ppf(0.99)
    for d in (result.ci_low, result.estimate, result.ci_high, 0.0, 0.01):
        assert ShiftStatistic(x, y).at(d) == pytest.approx(r_wdiff(x, y, d), rel=1e-9)
    # the ends are where R's statistic crosses the quantiles: past the quantile just before,
    # not past it just after (1e-9 on either side: the values are on a 0.01 grid)
    for end, quantile in ((result.ci_low, z), (result.ci_high, -z)):
        assert r_wdiff(x, y, end - 1e-9) - quantile > 0
        assert r_wdiff(x, y, end + 1e-9) - quantile <= 0
