"""The simulation of `analysis_detection.py --simulate`: fixed window, sequential and the oracle.

No services: per-second counts are drawn at the live case's traffic and split (Poisson
requests, canary at 10% of 100 req/s; binomial errors, 5% or 0.5% on the canary against 0.5% on
the baseline), 1,000 runs per setting, and judged three ways over the same data:

- fixed window (today): the demo's `error-ratio` threshold metric, with its initialDelay,
  interval, count and window;
- sequential: `serinus.core.judge.sequential.ErrorRatioTest`, the test behind the `sequential`
  metric kind, looking at the counters every second (the scrape interval);
- the oracle: the sequential probability ratio test that knows the canary's rate ratio r exactly
  (the same model with a single alternative, the true r). It is the fastest test of its false-fail
  level on average (Wald and Wolfowitz): no test at alpha 5% that splits errors between the two
  sides can fail a bad canary sooner on average. A second oracle also knows both error rates
  (it reads the canary's requests alone); nothing using these counters can beat it either.

It also prints the tuning: the mixture's prior over r (the grid's range) and the look frequency,
each with its time to Fail and false-fail rate. Every setting keeps the alpha guarantee: the
prior is fixed in advance, and looking less often only drops chances to fail.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from serinus.core.judge.sequential import DEFAULT_RATIOS, CounterLook, ErrorRatioTest, first_failure
from serinus.core.spec_base import parse_duration
from serinus.demo.analysis import Timing

CANARY_SHARE = 0.10
BASELINE_ERRORS = 0.005
CANARY_ERRORS = 0.05
MAX_ERROR_RATIO_INCREASE = 0.03  # the demo's thresholds template
Counts = dict[str, np.ndarray]


def wilson(hits: int, runs: int) -> tuple[float, float]:
    """95% Wilson interval of a rate."""
    if runs == 0:
        return (math.nan, math.nan)
    p, z = hits / runs, 1.959964
    centre = (p + z * z / (2 * runs)) / (1 + z * z / runs)
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / (1 + z * z / runs)
    return (max(0.0, centre - half), min(1.0, centre + half))


def draw_counts(
    rng: np.random.Generator, runs: int, seconds: int, rate: float, canary_errors: float
) -> Counts:
    """Per-second counts, shape (runs, seconds): the analysis starts at second 0."""
    canary = rng.poisson(rate * CANARY_SHARE, (runs, seconds))
    baseline = rng.poisson(rate * (1 - CANARY_SHARE), (runs, seconds))
    return {
        "canary": canary,
        "canary_errors": rng.binomial(canary, canary_errors),
        "baseline": baseline,
        "baseline_errors": rng.binomial(baseline, BASELINE_ERRORS),
    }


def fixed_window(counts: Counts, timing: Timing, history: Counts) -> np.ndarray:
    """Time of the Fail verdict per run (inf: passed), as the error-ratio threshold metric.
    The baseline has `window` seconds of history before the analysis (its window reaches back)."""
    window = int(parse_duration(timing.window))
    runs = counts["canary"].shape[0]
    fail_at = np.full(runs, np.inf)
    baseline = np.concatenate([history["baseline"], counts["baseline"]], axis=1)
    baseline_errors = np.concatenate([history["baseline_errors"], counts["baseline_errors"]], 1)
    offset = history["baseline"].shape[1]
    for look in range(timing.count):
        at = int(timing.initial_delay + look * timing.interval)
        start = max(0, at - window)  # the canary has counters since second 0 only
        canary = counts["canary"][:, start:at].sum(1)
        canary_ratio = counts["canary_errors"][:, start:at].sum(1) / np.maximum(canary, 1)
        base = slice(offset + at - window, offset + at)
        baseline_ratio = baseline_errors[:, base].sum(1) / np.maximum(baseline[:, base].sum(1), 1)
        failed = (canary_ratio - baseline_ratio > MAX_ERROR_RATIO_INCREASE) & np.isinf(fail_at)
        fail_at[failed] = at
    return fail_at


def sequential(
    counts: Counts, alpha: float, ratios: tuple[float, ...] = DEFAULT_RATIOS
) -> np.ndarray:
    """Time of the first Fail per run (inf: none), by `ErrorRatioTest` itself, look by look."""
    test = ErrorRatioTest(alpha=alpha, ratios=ratios)
    totals = {key: np.cumsum(value, axis=1) for key, value in counts.items()}
    runs, seconds = counts["canary"].shape
    fail_at = np.full(runs, np.inf)
    for run in range(runs):
        looks = [CounterLook(0.0, 0, 0, 0, 0)] + [
            CounterLook(
                float(t + 1),
                float(totals["canary"][run, t]),
                float(totals["canary_errors"][run, t]),
                float(totals["baseline"][run, t]),
                float(totals["baseline_errors"][run, t]),
            )
            for t in range(seconds)
        ]
        failed = first_failure(test.evidence(looks))
        if failed is not None:
            fail_at[run] = failed.at
    return fail_at


def mixture(counts: Counts, alpha: float, ratios: Any, every: int = 1) -> np.ndarray:
    """The same test, vectorised over runs (for the tuning table), looking every `every` s."""
    runs, seconds = counts["canary"].shape
    looks = seconds // every
    c, ce, b, be = (
        counts[k][:, : looks * every].reshape(runs, looks, every).sum(2)
        for k in ("canary", "canary_errors", "baseline", "baseline_errors")
    )
    r = np.asarray(ratios, dtype=float)[None, None, :]
    share = (c / np.maximum(c + b, 1))[:, :, None]
    usable = (share > 0) & (share < 1)
    s = np.where(usable, share, 0.5)
    q = r * s / (r * s + 1 - s)
    step = ce[:, :, None] * np.log(q / s) + be[:, :, None] * np.log((1 - q) / (1 - s))
    log_ratio = np.cumsum(np.where(usable, step, 0.0), axis=1)
    top = log_ratio.max(2, keepdims=True)
    log_evidence = top[:, :, 0] + np.log(np.exp(log_ratio - top).sum(2)) - math.log(r.size)
    fails = log_evidence >= math.log(1 / alpha)
    first = (fails.argmax(1) + 1) * every
    return np.where(fails.any(1), first.astype(float), np.inf)


def known_rates_oracle(counts: Counts, alpha: float, bad: float, good: float) -> np.ndarray:
    """The SPRT of canary error rate `bad` against `good`, both known (canary requests only)."""
    step = counts["canary_errors"] * math.log(bad / good) + (
        counts["canary"] - counts["canary_errors"]
    ) * math.log((1 - bad) / (1 - good))
    fails = np.cumsum(step, axis=1) >= math.log(1 / alpha)
    return np.where(fails.any(1), (fails.argmax(1) + 1).astype(float), np.inf)


def wald_seconds(alpha: float, rate: float) -> float:
    """Wald's lower bound on the mean time to Fail of any test at `alpha` with power ~1 that
    splits errors between the sides: log(1/alpha) over the information per second."""
    r = CANARY_ERRORS / BASELINE_ERRORS
    s = CANARY_SHARE
    q = r * s / (r * s + 1 - s)
    per_error = q * math.log(q / s) + (1 - q) * math.log((1 - q) / (1 - s))
    errors_per_second = rate * (s * CANARY_ERRORS + (1 - s) * BASELINE_ERRORS)
    return math.log(1 / alpha) / (per_error * errors_per_second)


def summary(fail_at: np.ndarray, horizon: int) -> dict[str, Any]:
    failed = fail_at[np.isfinite(fail_at)]
    low, high = wilson(failed.size, fail_at.size)
    return {
        "failed": int(failed.size),
        "failRate": round(failed.size / fail_at.size, 4),
        "failRate95": [round(low, 4), round(high, 4)],
        "secondsToFailP50": float(np.median(failed)) if failed.size else None,
        "secondsToFailP90": round(float(np.percentile(failed, 90)), 2) if failed.size else None,
        # the mean over every run, a run that never fails counted at the end of the analysis
        "secondsToFailMean": round(float(np.mean(np.minimum(fail_at, horizon))), 2),
    }


GRIDS = ((1.1, 50.0), (1.5, 50.0), (2.0, 50.0), (3.0, 30.0), (5.0, 50.0))


def simulate(args: argparse.Namespace) -> dict[str, Any]:
    timing = Timing.for_demo(args.timing == "quick")
    seconds = int(timing.initial_delay + (timing.count - 1) * timing.interval)
    window = int(parse_duration(timing.window))
    rng = np.random.default_rng(args.seed)
    figures: dict[str, Any] = {
        "mode": "simulation",
        "timing": args.timing,
        "runsPerSetting": args.sim_runs,
        "rate": args.rate,
        "canaryShare": CANARY_SHARE,
        "analysisSeconds": seconds,
        "alpha": args.alpha,
        "ratios": [round(min(DEFAULT_RATIOS), 3), round(max(DEFAULT_RATIOS), 3)],
        "waldMeanSecondsBound": round(wald_seconds(args.alpha, args.rate), 2),
    }
    ratio = CANARY_ERRORS / BASELINE_ERRORS
    tuning: dict[str, Any] = {}
    for setting, canary_errors in (("bad", CANARY_ERRORS), ("healthy", BASELINE_ERRORS)):
        counts = draw_counts(rng, args.sim_runs, seconds, args.rate, canary_errors)
        history = draw_counts(rng, args.sim_runs, window, args.rate, BASELINE_ERRORS)
        seq = sequential(counts, args.alpha)
        if not np.array_equal(seq, mixture(counts, args.alpha, DEFAULT_RATIOS)):
            raise AssertionError("the vectorised test disagrees with ErrorRatioTest")
        for method, fail_at in (
            ("fixedWindow", fixed_window(counts, timing, history)),
            ("sequential", seq),
            ("oracle", mixture(counts, args.alpha, [ratio])),
            (
                "oracleKnownRates",
                known_rates_oracle(counts, args.alpha, CANARY_ERRORS, BASELINE_ERRORS),
            ),
        ):
            figures[f"{setting}.{method}"] = summary(fail_at, seconds)
        for low, high in GRIDS:
            grid = np.geomspace(low, high, len(DEFAULT_RATIOS))
            tuning[f"{setting}.grid {low:g}-{high:g}"] = summary(
                mixture(counts, args.alpha, grid), seconds
            )
        for every in (2, 5):
            tuning[f"{setting}.every {every} s"] = summary(
                mixture(counts, args.alpha, DEFAULT_RATIOS, every), seconds
            )
    figures["tuning"] = tuning
    fixed = figures["bad.fixedWindow"]["secondsToFailP50"]
    for method in ("sequential", "oracle", "oracleKnownRates"):
        value = figures[f"bad.{method}"]["secondsToFailP50"]
        figures[f"{method}TimeShare"] = round(value / fixed, 3) if fixed and value else None
    return figures


METHODS = ("fixedWindow", "sequential", "oracle", "oracleKnownRates")


def print_simulation(figures: dict[str, Any]) -> None:
    print(
        f"simulation: canary at {figures['canaryShare']:.0%} of {figures['rate']:g} req/s, "
        f"{figures['runsPerSetting']} runs per setting, the demo's {figures['timing']} timing "
        f"({figures['analysisSeconds']} s of analysis), alpha {figures['alpha']}, "
        f"mixture over r in {figures['ratios']}"
    )
    print(f"{'':<36}" + "".join(f"{m:>18}" for m in METHODS))
    for label, setting, key in (
        ("5% canary failed", "bad", "failRate"),
        ("time to Fail p50 (s)", "bad", "secondsToFailP50"),
        ("time to Fail p90 (s)", "bad", "secondsToFailP90"),
        ("time to Fail mean (s)", "bad", "secondsToFailMean"),
        ("0.5% canary failed (false fails)", "healthy", "failRate"),
        ("false fails, 95% interval", "healthy", "failRate95"),
    ):
        cells = [figures[f"{setting}.{method}"][key] for method in METHODS]
        print(f"{label:<36}" + "".join(f"{cell!s:>18}" for cell in cells))
    print(
        "time to Fail p50 / fixed window: "
        + ", ".join(f"{m} {figures[f'{m}TimeShare']}" for m in METHODS[1:])
    )
    print(
        f"Wald's bound on the mean time to Fail at this alpha: {figures['waldMeanSecondsBound']} s"
    )
    print("tuning (same data): 5% canary failed, p50, mean; healthy failed")
    tuning = figures["tuning"]
    for name in [k.removeprefix("bad.") for k in tuning if k.startswith("bad.")]:
        bad, healthy = tuning[f"bad.{name}"], tuning[f"healthy.{name}"]
        print(
            f"  {name:<16} {bad['failRate']:>7} {bad['secondsToFailP50']!s:>6} "
            f"{bad['secondsToFailMean']:>6}   {healthy['failRate']}"
        )
