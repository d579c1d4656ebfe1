"""Judge speed with 10,000 samples per side, against scipy.stats.mannwhitneyu on the same data.

Prints the median time of one full metric judgement (cleaning, U test, Hodges-Lehmann estimate,
98% interval, effect size, classification), of the test with estimate and interval alone, and of
scipy's asymptotic U test (statistic and p-value only), all measured in this run.

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


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000, help="samples per side")
    parser.add_argument("--repeat", type=int, default=15, help="repetitions (median reported)")
    args = parser.parse_args()

    rng = np.random.default_rng(2024)
    baseline = rng.lognormal(np.log(0.2), 0.3, args.samples)
    canary = rng.lognormal(np.log(0.21), 0.3, args.samples)
    analysis = CanaryAnalysis.model_validate({"direction": "increase"})
    judge = JudgeConfigurations()
    canary_list, baseline_list = canary.tolist(), baseline.tolist()

    judgement = median_seconds(
        lambda: classify_metric("latency", canary_list, baseline_list, analysis, judge), args.repeat
    )
    test_only = median_seconds(lambda: mann_whitney(canary, baseline, 0.98), args.repeat)
    reference = median_seconds(
        lambda: mannwhitneyu(canary, baseline, method="asymptotic", use_continuity=True),
        args.repeat,
    )
    result = classify_metric("latency", canary_list, baseline_list, analysis, judge)
    print(f"samples per side: {args.samples:,}  repetitions: {args.repeat} (median)")
    print(f"full judgement (serinus classify_metric): {judgement * 1000:8.1f} ms")
    print(f"U test + estimate + 98% interval:          {test_only * 1000:8.1f} ms")
    print(f"scipy.stats.mannwhitneyu (U and p only):   {reference * 1000:8.1f} ms")
    print(f"ratio judgement / scipy: {judgement / reference:.1f}x")
    print(f"ratio test+interval / scipy: {test_only / reference:.1f}x")
    print(
        f"result: {result.classification.value}, p={result.p_value:.3g}, "
        f"shift {result.estimate:.4g} [{result.ci_low:.4g}, {result.ci_high:.4g}]"
    )


if __name__ == "__main__":
    main()
