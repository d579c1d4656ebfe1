"""Judge speed with 10,000 samples per side, against scipy.stats.mannwhitneyu on the same data.

Prints the median time of one full metric judgement (cleaning, U test, Hodges-Lehmann estimate,
98% interval, effect size, classification), of the test with estimate and interval alone, and of
scipy's asymptotic U test (statistic and p-value only), all measured in this run, on continuous
latencies and on tied data (error counts that are mostly zero). The three are timed in turn
within each repetition and the ratio is the median of the per-repetition ratios, so a machine
whose load changes during the run still gives a fair ratio.

    python benchmarks/judge_speed.py [--samples 10000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from scipy.stats import mannwhitneyu

from serinus.core.judge.canary_config import CanaryAnalysis, JudgeConfigurations
from serinus.core.judge.classify import classify_metric
from serinus.core.judge.mannwhitney import mann_whitney


def seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def report(name: str, canary: np.ndarray, baseline: np.ndarray, repeat: int) -> None:
    analysis = CanaryAnalysis.model_validate({"direction": "increase"})
    judge = JudgeConfigurations()
    canary_list, baseline_list = canary.tolist(), baseline.tolist()
    runs: dict[str, Callable[[], object]] = {
        "judgement": lambda: classify_metric("m", canary_list, baseline_list, analysis, judge),
        "test": lambda: mann_whitney(canary, baseline, 0.98),
        "scipy": lambda: mannwhitneyu(canary, baseline, method="asymptotic", use_continuity=True),
    }
    for run in runs.values():
        run()  # warm-up
    times: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(repeat):
        for key, run in runs.items():
            times[key].append(seconds(run))
    ms = {key: statistics.median(values) * 1000 for key, values in times.items()}

    def ratio(key: str) -> float:
        return statistics.median(a / b for a, b in zip(times[key], times["scipy"], strict=True))

    result = classify_metric("m", canary_list, baseline_list, analysis, judge)
    print(f"{name}: {canary.size:,} samples per side, {repeat} repetitions (medians)")
    print(f"  full judgement (serinus classify_metric): {ms['judgement']:8.1f} ms")
    print(f"  U test + estimate + 98% interval:          {ms['test']:8.1f} ms")
    print(f"  scipy.stats.mannwhitneyu (U and p only):   {ms['scipy']:8.1f} ms")
    print(f"  ratio judgement / scipy: {ratio('judgement'):.1f}x")
    print(f"  ratio test+interval / scipy: {ratio('test'):.1f}x")
    print(
        f"  result: {result.classification.value}, p={result.p_value:.3g}, "
        f"shift {result.estimate:.4g} [{result.ci_low:.4g}, {result.ci_high:.4g}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000, help="samples per side")
    parser.add_argument("--repeat", type=int, default=15, help="repetitions (median reported)")
    args = parser.parse_args()

    rng = np.random.default_rng(2024)
    size = args.samples
    report(
        "latencies (continuous)",
        rng.lognormal(np.log(0.21), 0.3, size),
        rng.lognormal(np.log(0.2), 0.3, size),
        args.repeat,
    )
    report(
        "error counts (mostly zero)",
        rng.poisson(0.06, size).astype(float),
        rng.poisson(0.005, size).astype(float),
        args.repeat,
    )


if __name__ == "__main__":
    main()
