"""Analysis detection: time to a Fail verdict for a 5%-error canary, and the false-fail rate.

The local demo set-up, for real: `serinus.demo.app` replicas behind HAProxy under steady load
(default 100 req/s), a private Prometheus (Debian's `prometheus`, 1 s scrapes) and the demo's
analysis templates (`serinus.demo.analysis`: error ratio and p95 latency against stable, by
thresholds and by the comparative judge), with the demo's quick timing unless `--timing full`.
Stable (v1) answers 0.5% errors throughout. Each run rolls a canary out to 10% of the traffic and
runs the analysis step:

- fail runs: the canary answers 5% errors; the figure is the time from the start of the analysis
  (the run's `startedAt`, when the canary got its 10%) to its Fail verdict (`finishedAt`), as
  the engine recorded them;
- healthy runs: the canary answers 0.5% errors, like stable; a Fail is a false fail.

After the verdict the canary is aborted whatever it was (steps: setWeight 10 -> analysis -> pause),
so stable stays v1 and every run is judged against the same baseline.

    python benchmarks/analysis_detection.py [--runs 20] [--fail-runs 5] [--quick]

`--simulate` needs no service: counters are drawn per second (Poisson requests at the live
case's traffic and split, binomial errors at its rates), 1,000 runs per setting by default, and
judged two ways over the same data. Fixed window (today): the demo's `error-ratio` threshold
metric, with its initialDelay, interval, count and window. The p95 metric and the comparative
judge are not simulated: latency is not modelled. Sequential: `serinus.core.judge.sequential`
looks at the counters every second (the scrape interval) and fails at once when its evidence
crosses the boundary; it never passes before the fixed window would.

    python benchmarks/analysis_detection.py --simulate [--sim-runs 1000] [--timing full]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from local_bench import LocalBench, median, print_json

from serinus.app import operations
from serinus.app.engine import Reconciled
from serinus.core.analysis.run import AnalysisPhase, AnalysisRunState
from serinus.core.documents import validate_model
from serinus.core.intents import IntentKind
from serinus.core.judge.sequential import CounterLook, ErrorRatioTest, first_failure
from serinus.core.spec import Rollout
from serinus.core.spec_base import parse_duration
from serinus.core.status import Phase
from serinus.demo import prometheus
from serinus.demo.analysis import Timing
from serinus.demo.prometheus import PrometheusServer
from serinus.demo.scenario import NAME, DemoOptions, LoadThread, demo_rollout

STABLE = "v1"
BASELINE_ERRORS = 0.005
CANARY_ERRORS = 0.05


class DetectionBench(LocalBench):
    """The demo's rollout (without its judgement gate) over the bench's HAProxy and replicas."""

    def __init__(self, *, timing: str, replicas: int, faults: dict[str, float]) -> None:
        super().__init__(NAME, replicas=replicas, strategy={}, startup_delay=0.3)
        self.quick = timing == "quick"
        self.faults = faults
        self.prometheus = PrometheusServer(
            Path(self.state_dir) / "prometheus", f"127.0.0.1:{self.stats_port}"
        )

    def rollout(self, version: str) -> Rollout:
        options = DemoOptions(quick=self.quick, replicas=self.replicas)
        spec = demo_rollout(
            version, options, self.port, self.stats_port, self.prometheus.address, self.faults
        )
        document = spec.model_dump(by_alias=True, exclude_none=True)
        strategy = document["spec"]["strategy"]["blueGreenCanary"]
        strategy["steps"] = [
            {"setWeight": 10},
            {"analysis": {"templates": ["thresholds", "judge"]}},
            {"pause": {}},
        ]
        strategy["abortScaleDownDelay"] = 0.5
        return validate_model(Rollout, document, "detection benchmark rollout")


async def one_run(bench: DetectionBench, version: str) -> AnalysisRunState:
    """Roll `version` out to 10%, let the analysis decide, then abort it (whatever it said)."""
    asked: list[asyncio.Task[Any]] = []  # the abort request (kept referenced until done)

    def watch(result: Reconciled) -> None:
        if result.observed.colors:
            bench.prometheus.write_targets(result.observed.colors)
        waiting = result.status.phase in (Phase.PAUSED, Phase.AWAITING_JUDGEMENT)
        if waiting and not asked:
            request = operations.request(
                bench.store, NAME, IntentKind.ABORT, actor="benchmark", source="detection"
            )
            asked.append(asyncio.get_running_loop().create_task(request))

    status = await bench.roll_out(version, watch)
    if status.phase is not Phase.ABORTED or status.analysis is None:
        raise RuntimeError(f"run {version} ended {status.phase}: {status.message}")
    return status.analysis


def verdict(run: AnalysisRunState) -> tuple[str, str]:
    """(Pass/Fail/Inconclusive, the deciding metric or '')."""
    if run.phase is AnalysisPhase.SUCCESSFUL:
        return "Pass", ""
    deciding = [r.name for r in run.metrics if r.phase is run.phase and not r.dry_run]
    label = "Fail" if run.failed else str(run.phase)
    return label, ",".join(deciding)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    versions = [f"f{i + 1}" for i in range(args.fail_runs)] + [
        f"h{i + 1}" for i in range(args.runs)
    ]
    faults = {STABLE: BASELINE_ERRORS}
    faults |= {v: CANARY_ERRORS if v.startswith("f") else BASELINE_ERRORS for v in versions}
    bench = DetectionBench(timing=args.timing, replicas=args.replicas, faults=faults)
    fails: list[dict[str, Any]] = []
    healthy: list[dict[str, Any]] = []
    async with bench:
        bench.prometheus.start()
        try:
            await bench.start(STABLE)
            bench.prometheus.write_targets(await bench.engine.platform.observe())
            await bench.prometheus.wait_until_scraped()
            await bench.prometheus.wait_until_scraped('up{job="replicas"} == 1')
            load = LoadThread(bench.url, args.rate)
            load.start()
            try:
                await asyncio.sleep(2.0)
                # interleaved, so both kinds see the same conditions over the whole benchmark
                order = sorted(versions, key=lambda v: (int(v[1:]), v))
                for version in order:
                    analysis = await one_run(bench, version)
                    outcome, metric = verdict(analysis)
                    seconds = (analysis.finished_at or time.time()) - analysis.started_at
                    record = {
                        "version": version,
                        "verdict": outcome,
                        "decidedBy": metric,
                        "seconds": round(seconds, 2),
                    }
                    (fails if version.startswith("f") else healthy).append(record)
                    kind = "5% errors  " if version.startswith("f") else "0.5% errors"
                    print(
                        f"{version:>4} canary {kind}: {outcome:<12} after {seconds:5.1f}s {metric}",
                        flush=True,
                    )
            finally:
                report = load.stop()
        finally:
            bench.prometheus.stop()
    detected = [r for r in fails if r["verdict"] == "Fail"]
    times = [r["seconds"] for r in detected]
    false_fails = [r for r in healthy if r["verdict"] == "Fail"]
    return {
        "timing": args.timing,
        "rate": args.rate,
        "achievedRate": round(report.achieved_rate, 1),
        "canaryWeight": 10,
        "baselineErrorRatio": BASELINE_ERRORS,
        "canaryErrorRatio": CANARY_ERRORS,
        "failRuns": len(fails),
        "detected": len(detected),
        "secondsToFail": {
            "p50": round(median(times), 2) if times else None,
            "min": min(times, default=None),
            "max": max(times, default=None),
        },
        "failDecidedBy": dict(Counter(r["decidedBy"] for r in detected)),
        "healthyRuns": len(healthy),
        "falseFails": len(false_fails),
        "falseFailRate": round(len(false_fails) / len(healthy), 3) if healthy else None,
        "falseFailDecidedBy": dict(Counter(r["decidedBy"] for r in false_fails)),
        "healthyVerdicts": dict(Counter(r["verdict"] for r in healthy)),
        "healthyPassSeconds": round(
            median([r["seconds"] for r in healthy if r["verdict"] == "Pass"] or [0.0]), 2
        ),
        "runs": fails + healthy,
    }


# --- simulation: no services, the live case's traffic and rates ---------------------------------

CANARY_SHARE = 0.10
MAX_ERROR_RATIO_INCREASE = 0.03  # the demo's thresholds template


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
) -> dict[str, np.ndarray]:
    """Per-second counts, shape (runs, seconds): the analysis starts at second 0. The baseline
    also gets `window` seconds of history before it (its rate window reaches back)."""
    canary = rng.poisson(rate * CANARY_SHARE, (runs, seconds))
    baseline = rng.poisson(rate * (1 - CANARY_SHARE), (runs, seconds))
    return {
        "canary": canary,
        "canary_errors": rng.binomial(canary, canary_errors),
        "baseline": baseline,
        "baseline_errors": rng.binomial(baseline, BASELINE_ERRORS),
    }


def fixed_window(counts: dict[str, np.ndarray], timing: Timing, history: dict[str, np.ndarray]):
    """Time of the Fail verdict per run (inf: passed), as the error-ratio threshold metric."""
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


def sequential(counts: dict[str, np.ndarray], seconds: int, alpha: float) -> np.ndarray:
    test = ErrorRatioTest(alpha=alpha)
    totals = {key: np.cumsum(value, axis=1) for key, value in counts.items()}
    fail_at = np.full(counts["canary"].shape[0], np.inf)
    for run in range(fail_at.size):
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
    }
    for setting, canary_errors in (("bad", CANARY_ERRORS), ("healthy", BASELINE_ERRORS)):
        counts = draw_counts(rng, args.sim_runs, seconds, args.rate, canary_errors)
        history = draw_counts(rng, args.sim_runs, window, args.rate, BASELINE_ERRORS)
        for method, fail_at in (
            ("fixedWindow", fixed_window(counts, timing, history)),
            ("sequential", sequential(counts, seconds, args.alpha)),
        ):
            failed = fail_at[np.isfinite(fail_at)]
            low, high = wilson(failed.size, fail_at.size)
            figures[f"{setting}.{method}"] = {
                "failed": int(failed.size),
                "failRate": round(failed.size / fail_at.size, 4),
                "failRate95": [round(low, 4), round(high, 4)],
                "secondsToFailP50": float(np.median(failed)) if failed.size else None,
                "secondsToFailP90": float(np.percentile(failed, 90)) if failed.size else None,
            }
    fixed = figures["bad.fixedWindow"]["secondsToFailP50"]
    seq = figures["bad.sequential"]["secondsToFailP50"]
    figures["sequentialTimeShare"] = round(seq / fixed, 3) if fixed and seq else None
    return figures


def print_simulation(figures: dict[str, Any]) -> None:
    print(
        f"simulation: canary at {figures['canaryShare']:.0%} of {figures['rate']:g} req/s, "
        f"{figures['runsPerSetting']} runs per setting, the demo's {figures['timing']} timing "
        f"({figures['analysisSeconds']} s of analysis), sequential alpha {figures['alpha']}"
    )
    print(f"{'':<40}{'fixed window':>16}{'sequential':>16}")
    for label, setting, key in (
        ("5% canary failed", "bad", "failRate"),
        ("time to Fail p50 (s)", "bad", "secondsToFailP50"),
        ("time to Fail p90 (s)", "bad", "secondsToFailP90"),
        ("0.5% canary failed (false fails)", "healthy", "failRate"),
        ("false fails, 95% interval", "healthy", "failRate95"),
    ):
        fixed = figures[f"{setting}.fixedWindow"][key]
        seq = figures[f"{setting}.sequential"][key]
        print(f"{label:<40}{fixed!s:>16}{seq!s:>16}")
    print(f"sequential time to Fail / fixed window: {figures['sequentialTimeShare']}")
    print_json(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="healthy runs (0.5%% vs 0.5%%)")
    parser.add_argument("--fail-runs", type=int, default=5, help="runs with a 5%% canary")
    parser.add_argument("--quick", action="store_true", help="3 healthy and 2 fail runs")
    parser.add_argument("--rate", type=float, default=100.0, help="load in requests/s")
    parser.add_argument("--replicas", type=int, default=2, help="replicas per version")
    parser.add_argument(
        "--timing", choices=("quick", "full"), default="quick", help="the demo's analysis timing"
    )
    parser.add_argument("--simulate", action="store_true", help="no services: the simulation")
    parser.add_argument("--sim-runs", type=int, default=1000, help="simulated runs per setting")
    parser.add_argument("--alpha", type=float, default=0.05, help="sequential false-fail bound")
    parser.add_argument("--seed", type=int, default=2026, help="simulation seed")
    args = parser.parse_args()
    if args.simulate:
        if args.sim_runs < 1:
            parser.error("--sim-runs must be >= 1")
        print_simulation(simulate(args))
        return
    if args.quick:
        args.runs, args.fail_runs = min(args.runs, 3), min(args.fail_runs, 2)
    if args.runs < 0 or args.fail_runs < 0 or args.runs + args.fail_runs == 0:
        parser.error("--runs and --fail-runs must be >= 0, and not both 0")
    if not prometheus.available() or shutil.which("haproxy") is None:
        sys.exit("needs the Debian packages prometheus and haproxy")
    figures = asyncio.run(run(args))
    print()
    print(
        f"canary at 10% of {figures['achievedRate']:g} req/s, stable at 0.5% errors, "
        f"the demo's {figures['timing']} analysis timing"
    )
    print(f"{'':<44}{'value':>12}")
    seconds = figures["secondsToFail"]
    false_fails = ", ".join(f"{k} {v}" for k, v in figures["falseFailDecidedBy"].items())
    rows = [
        ("5% canary detected (Fail)", f"{figures['detected']}/{figures['failRuns']}"),
        ("time to Fail p50 (s)", seconds["p50"]),
        ("time to Fail min / max (s)", f"{seconds['min']} / {seconds['max']}"),
        ("decided by", ", ".join(f"{k} {v}" for k, v in figures["failDecidedBy"].items())),
        ("healthy canaries failed", f"{figures['falseFails']}/{figures['healthyRuns']}"),
        ("false-fail rate", figures["falseFailRate"]),
        ("false fails decided by", false_fails or "-"),
        ("healthy verdicts", ", ".join(f"{k} {v}" for k, v in figures["healthyVerdicts"].items())),
        ("healthy analysis to Pass p50 (s)", figures["healthyPassSeconds"]),
    ]  # fmt: skip
    for label, value in rows:
        print(f"{label:<44}{value!s:>12}")
    print_json(figures)


if __name__ == "__main__":
    main()
