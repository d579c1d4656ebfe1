"""Sequential early stopping on error ratios: false fails controlled over every look, fast fails."""

from __future__ import annotations

import math

import numpy as np
import pytest

from serinus.core.judge.sequential import (
    DEFAULT_RATIOS,
    CounterLook,
    ErrorRatioTest,
    first_failure,
)


def simulate(
    rng: np.random.Generator,
    canary_rate: float,
    baseline_rate: float,
    seconds: int = 60,
    canary_share: float | np.ndarray = 0.1,
    traffic: float = 100.0,
) -> list[CounterLook]:
    """Counters read every second: Poisson requests, binomial errors."""
    share = np.broadcast_to(np.asarray(canary_share, dtype=float), (seconds,))
    canary = rng.poisson(traffic * share)
    baseline = rng.poisson(traffic * (1.0 - share))
    canary_errors = rng.binomial(canary, canary_rate)
    baseline_errors = rng.binomial(baseline, baseline_rate)
    looks = [CounterLook(0.0, 0, 0, 0, 0)]
    totals = np.cumsum(np.stack([canary, canary_errors, baseline, baseline_errors]), axis=1)
    for second in range(seconds):
        looks.append(CounterLook(float(second + 1), *(float(v) for v in totals[:, second])))
    return looks


def test_one_interval_by_hand() -> None:
    # 100 canary and 900 baseline requests (share 0.1), one canary error: the likelihood ratio
    # of rate ratio r is q / s with q = r s / (r s + 1 - s); the evidence is their mean.
    looks = [CounterLook(0, 0, 0, 0, 0), CounterLook(1, 100, 1, 900, 0)]
    evidence = ErrorRatioTest().evidence(looks)
    expected = np.mean([r / (0.1 * r + 0.9) for r in DEFAULT_RATIOS])
    assert math.exp(evidence[1].log_evidence) == pytest.approx(expected, rel=1e-12)
    assert evidence[0].log_evidence == pytest.approx(0.0)  # nothing seen yet: evidence 1
    assert evidence[1].log_boundary == pytest.approx(math.log(20))
    assert (evidence[1].canary_ratio, evidence[1].baseline_ratio) == (0.01, 0.0)
    assert evidence[0].canary_ratio is None


def false_fail_rate(runs: int, seed: int, **settings: object) -> float:
    rng = np.random.default_rng(seed)
    test = ErrorRatioTest(alpha=0.05)
    fails = sum(
        first_failure(test.evidence(simulate(rng, **settings))) is not None  # type: ignore[arg-type]
        for _ in range(runs)
    )
    return fails / runs


@pytest.mark.parametrize(
    "settings",
    [
        {"canary_rate": 0.005, "baseline_rate": 0.005},  # a healthy canary
        {"canary_rate": 0.05, "baseline_rate": 0.05},  # both bad alike: still no worse
        {"canary_rate": 0.002, "baseline_rate": 0.005},  # better than the baseline
        # the canary's share moves between looks (a weight step, uneven load)
        {
            "canary_rate": 0.02,
            "baseline_rate": 0.02,
            "canary_share": np.repeat([0.1, 0.5, 0.25], 20),
        },
    ],
)
def test_false_fails_stay_below_alpha_over_every_look(settings: dict[str, object]) -> None:
    # 60 looks per run, each a chance to fail; Ville's inequality bounds them all together.
    # 400 runs at alpha 0.05: a rate above 0.08 would be 3 standard errors past the bound.
    assert false_fail_rate(400, seed=len(settings), **settings) <= 0.08


def test_a_five_percent_canary_against_half_a_percent_fails_within_seconds() -> None:
    rng = np.random.default_rng(7)
    test = ErrorRatioTest()
    times = []
    for _ in range(200):
        failed = first_failure(test.evidence(simulate(rng, 0.05, 0.005, seconds=30)))
        if failed is not None:
            times.append(failed.at)
            assert failed.canary_ratio is not None and failed.log_evidence >= failed.log_boundary
    assert len(times) >= 0.97 * 200  # about 99.7% in simulation
    assert np.median(times) <= 10.0  # about 7 s; a fixed window's first look is at 10 s


@pytest.mark.parametrize(
    ("looks", "message"),
    [
        (
            [CounterLook(0, 10, 1, 10, 0), CounterLook(1, 5, 1, 20, 0)],
            "canary_requests: the counter went down",
        ),
        ([CounterLook(0, 10, 11, 10, 0)], "looks[0].canary_errors: more errors than requests"),
        ([CounterLook(0, 10, 1, math.nan, 0)], "looks[0].baseline_requests: nan is not a finite"),
        ([CounterLook(0, 10, 1, 10, -1)], "looks[0].baseline_errors: -1 is not a finite"),
        ([CounterLook(5, 1, 0, 1, 0), CounterLook(1, 2, 0, 2, 0)], "looks[1].at: looks must be"),
    ],
)
def test_bad_counters_are_refused_naming_the_field(looks: list[CounterLook], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ErrorRatioTest().evidence(looks)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="alpha"):
        ErrorRatioTest(alpha=1.0)
    with pytest.raises(ValueError, match="ratios"):
        ErrorRatioTest(ratios=[0.5, 2.0])


def test_the_default_ratios_are_numpys_geomspace_without_numpy() -> None:
    # computed in pure Python so that importing the module (every status read) loads no numpy
    assert (DEFAULT_RATIOS[0], DEFAULT_RATIOS[-1], len(DEFAULT_RATIOS)) == (2.0, 50.0, 40)
    np.testing.assert_allclose(DEFAULT_RATIOS, np.geomspace(2.0, 50.0, 40), rtol=1e-15, atol=0)
