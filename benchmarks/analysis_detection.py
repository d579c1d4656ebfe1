"""Analysis detection: time to a Fail verdict for a 5%-error canary, and the false-fail rate.

The local demo set-up, for real: `serinus.demo.app` replicas behind HAProxy under steady load
(default 100 req/s) and a private Prometheus (Debian's `prometheus`, 1 s scrapes). Stable (v1)
answers 0.5% errors throughout. Each run rolls a canary out to 10% of the traffic and runs one
analysis step with two metrics over the same traffic, both `dryRun` so that each runs to its own
verdict whatever the other says:

- `fixed-window`: the demo's error-ratio threshold (`serinus.demo.analysis`: canary minus
  stable error ratio over the window, at most 0.03), with its initialDelay, interval and count;
- `sequential`: the `sequential` metric kind on the replicas' cumulative request and 5xx
  counters, one look a second for as long as the fixed window runs, alpha 0.05, minSamples 200.

The figure per metric is the time from the start of the analysis (the run's `startedAt`, when
the canary got its 10%) to the metric's first Failed measurement, as the engine recorded them.
Fail runs have a canary with 5% errors; healthy runs one with 0.5%, where a Fail is a false fail.
After the analysis the canary is aborted (steps: setWeight 10 -> analysis -> pause), so stable
stays v1 and every run is judged against the same baseline. Fail and healthy runs alternate.

    python benchmarks/analysis_detection.py [--runs 20] [--fail-runs 20] [--timing full]

`--simulate` needs no service (see `detection_simulation.py`): 1,000 simulated runs per setting,
fixed window, sequential and the oracle bound side by side.

    python benchmarks/analysis_detection.py --simulate [--sim-runs 1000] [--timing full]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from detection_simulation import print_simulation, simulate, wilson
from local_bench import LocalBench, print_json

from serinus.app import operations
from serinus.app.engine import Reconciled
from serinus.core.analysis.run import AnalysisRunState, MeasurementPhase
from serinus.core.documents import validate_model
from serinus.core.intents import IntentKind
from serinus.core.spec import Rollout
from serinus.core.status import Phase
from serinus.demo import prometheus
from serinus.demo.analysis import REQUESTS, Timing, analysis_templates
from serinus.demo.prometheus import PrometheusServer
from serinus.demo.scenario import NAME, DemoOptions, LoadThread, demo_rollout

STABLE = "v1"
BASELINE_ERRORS = 0.005
CANARY_ERRORS = 0.05
MIN_SAMPLES = 200
METRICS = ("fixed-window", "sequential")


def counter(role: str, errors: bool) -> str:
    """A role's (`canary`/`stable`) cumulative answers (or 5xx answers) over its replicas."""
    selector = f'version="{{{{{role}.version}}}}"'
    if errors:
        # no 5xx yet means no error series at all: that is a count of 0
        return f'sum({REQUESTS}{{{selector},code=~"5.."}}) or vector(0)'
    if role == "canary":
        # The canary's replicas are new: Prometheus finds and scrapes them a few seconds after
        # the analysis starts, and until then their series do not exist. Their counters start at
        # 0 with the process, so "no series yet" is a count of 0 and counting starts at the
        # first look; without this the first looks are no data and the requests the canary
        # answered before its first scrape never count (2 to 5 s of evidence lost per run).
        return f"sum({REQUESTS}{{{selector}}}) or vector(0)"
    return f"sum({REQUESTS}{{{selector}}})"


def detection_template(address: str, timing: Timing, alpha: float) -> dict[str, Any]:
    thresholds = analysis_templates(address, timing)[0]
    fixed = next(m for m in thresholds["metrics"] if m["name"] == "error-ratio")
    seconds = int(timing.initial_delay + (timing.count - 1) * timing.interval)
    sequential = {
        "name": "sequential",
        "interval": 1.0,
        "count": seconds + 1,  # the first look (at 0 s) starts counting
        # a scrape gap is a no-data look; the next look's interval covers it
        "inconclusiveLimit": 5,
        "dryRun": True,
        "sequential": {
            "provider": {"prometheus": {"address": address, "timeout": 5}},
            "alpha": alpha,
            "minSamples": MIN_SAMPLES,
            "canary": {"requests": counter("canary", False), "errors": counter("canary", True)},
            "baseline": {"requests": counter("stable", False), "errors": counter("stable", True)},
        },
    }
    return {
        "name": "detection",
        "args": thresholds["args"],
        "metrics": [{**fixed, "name": "fixed-window", "dryRun": True}, sequential],
    }


class DetectionBench(LocalBench):
    """The demo's rollout (one analysis step, no judgement gate) over HAProxy and replicas."""

    def __init__(
        self, *, timing: str, replicas: int, faults: dict[str, float], alpha: float
    ) -> None:
        super().__init__(NAME, replicas=replicas, strategy={}, startup_delay=0.3)
        self.timing = Timing.for_demo(timing == "quick")
        self.quick = timing == "quick"
        self.faults = faults
        self.alpha = alpha
        self.prometheus = PrometheusServer(
            Path(self.state_dir) / "prometheus", f"127.0.0.1:{self.stats_port}"
        )

    def rollout(self, version: str) -> Rollout:
        options = DemoOptions(quick=self.quick, replicas=self.replicas)
        spec = demo_rollout(
            version, options, self.port, self.stats_port, self.prometheus.address, self.faults
        )
        document = spec.model_dump(by_alias=True, exclude_none=True)
        document["spec"]["analysisTemplates"] = [
            detection_template(self.prometheus.address, self.timing, self.alpha)
        ]
        strategy = document["spec"]["strategy"]["blueGreenCanary"]
        strategy["steps"] = [
            {"setWeight": 10},
            {"analysis": {"templates": ["detection"]}},
            {"pause": {}},
        ]
        strategy["abortScaleDownDelay"] = 0.5
        return validate_model(Rollout, document, "detection benchmark rollout")


async def one_run(bench: DetectionBench, version: str) -> AnalysisRunState:
    """Roll `version` out to 10%, let the analysis run out, then abort it (whatever it said)."""
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


def seconds_to_fail(run: AnalysisRunState, metric: str) -> float | None:
    """Seconds from the run's start to the metric's first Failed measurement; None: never."""
    result = run.result(metric)
    failed = [m.at for m in result.measurements if m.phase is MeasurementPhase.FAILED]
    return round(failed[0] - run.started_at, 2) if failed else None


def quantiles(times: list[float]) -> dict[str, float | None]:
    if not times:
        return {"p50": None, "p90": None}
    return {
        "p50": round(float(np.percentile(times, 50)), 2),
        "p90": round(float(np.percentile(times, 90)), 2),
    }


def median_all(times: list[float | None]) -> float | None:
    """The median over every run, a run that never failed counting as never (None if that is
    the median): the time by which half of the canaries were failed."""
    if not times:
        return None
    ordered = sorted(math.inf if t is None else t for t in times)
    middle = ordered[(len(ordered) - 1) // 2 : len(ordered) // 2 + 1]
    value = sum(middle) / len(middle)
    return round(value, 2) if math.isfinite(value) else None


async def live(args: argparse.Namespace) -> dict[str, Any]:
    versions = [f"f{i + 1}" for i in range(args.fail_runs)] + [
        f"h{i + 1}" for i in range(args.runs)
    ]
    faults = {STABLE: BASELINE_ERRORS}
    faults |= {v: CANARY_ERRORS if v.startswith("f") else BASELINE_ERRORS for v in versions}
    bench = DetectionBench(
        timing=args.timing, replicas=args.replicas, faults=faults, alpha=args.alpha
    )
    records: list[dict[str, Any]] = []
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
                for version in sorted(versions, key=lambda v: (int(v[1:]), v)):
                    analysis = await one_run(bench, version)
                    record: dict[str, Any] = {"version": version}
                    for metric in METRICS:
                        result = analysis.result(metric)
                        record[metric] = seconds_to_fail(analysis, metric)
                        record[f"{metric}.phase"] = result.phase.value
                        record[f"{metric}.message"] = result.message
                    records.append(record)
                    kind = "5% errors  " if version.startswith("f") else "0.5% errors"
                    shown = "  ".join(f"{m} {record[m]!s:>6}" for m in METRICS)
                    print(f"{version:>4} canary {kind}: seconds to Fail {shown}", flush=True)
            finally:
                report = load.stop()
        finally:
            bench.prometheus.stop()
    figures: dict[str, Any] = {
        "mode": "live",
        "timing": args.timing,
        "rate": args.rate,
        "achievedRate": round(report.achieved_rate, 1),
        "canaryWeight": 10,
        "alpha": args.alpha,
        "minSamples": MIN_SAMPLES,
    }
    for setting, prefix in (("bad", "f"), ("healthy", "h")):
        runs = [r for r in records if r["version"].startswith(prefix)]
        for metric in METRICS:
            times = [r[metric] for r in runs if r[metric] is not None]
            low, high = wilson(len(times), len(runs))
            figures[f"{setting}.{metric}"] = {
                "runs": len(runs),
                "failed": len(times),
                "failRate95": [round(low, 4), round(high, 4)],
                **{f"secondsToFail{k.upper()}": v for k, v in quantiles(times).items()},
                "secondsToFailP50AllRuns": median_all([r[metric] for r in runs]),
                "phases": sorted({r[f"{metric}.phase"] for r in runs}),
            }
    figures["runs"] = records
    return figures


def print_live(figures: dict[str, Any]) -> None:
    print()
    print(
        f"live: canary at 10% of {figures['achievedRate']:g} req/s, stable at 0.5% errors, "
        f"the demo's {figures['timing']} timing, sequential alpha {figures['alpha']}"
    )
    print(f"{'':<40}{'fixed window':>18}{'sequential':>18}")
    rows = [
        ("5% canary failed", "bad", lambda f: f"{f['failed']}/{f['runs']}"),
        ("time to Fail p50 (s)", "bad", lambda f: f["secondsToFailP50"]),
        ("time to Fail p90 (s)", "bad", lambda f: f["secondsToFailP90"]),
        ("p50 over all runs, a miss as never (s)", "bad", lambda f: f["secondsToFailP50AllRuns"]),
        ("0.5% canary failed (false fails)", "healthy", lambda f: f"{f['failed']}/{f['runs']}"),
        ("false fails, 95% interval", "healthy", lambda f: f["failRate95"]),
    ]
    for label, setting, shown in rows:
        cells = [shown(figures[f"{setting}.{metric}"]) for metric in METRICS]
        print(f"{label:<40}{cells[0]!s:>18}{cells[1]!s:>18}")
    fixed, seq = (figures[f"bad.{m}"]["secondsToFailP50"] for m in METRICS)
    if fixed and seq:
        print(f"sequential time to Fail / fixed window (p50): {seq / fixed:.2f}")
    print_json(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="healthy runs (0.5%% vs 0.5%%)")
    parser.add_argument("--fail-runs", type=int, default=20, help="runs with a 5%% canary")
    parser.add_argument("--quick", action="store_true", help="3 healthy and 2 fail runs")
    parser.add_argument("--rate", type=float, default=100.0, help="load in requests/s")
    parser.add_argument("--replicas", type=int, default=2, help="replicas per version")
    parser.add_argument(
        "--timing", choices=("quick", "full"), default="full", help="the demo's analysis timing"
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
    started = time.monotonic()
    figures = asyncio.run(live(args))
    figures["benchmarkSeconds"] = round(time.monotonic() - started, 1)
    print_live(figures)


if __name__ == "__main__":
    main()
