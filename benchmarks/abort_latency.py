"""Abort latency: from the abort command to 100% of new requests answered by the stable version.

One rollout of `serinus.demo.app` replicas behind HAProxy, driven in this process as
`serinus run` drives it (same 0.2 s poll). Each round submits a new version with the steps
setWeight 50 -> pause {} (waits for promote), waits until it is Paused with half the traffic,
then aborts it. A probe process (benchmarks/version_probe.py) sends GETs in a tight loop on one
keep-alive connection and records who answered each one.

The clock starts when `operations.request(..., ABORT, ...)` returns (the in-process abort; the
`serinus abort` CLI adds its own start-up, about the time to start Python). The latency is the
send time of the first request answered by stable after the last one answered by anything else
(the canary or an error): from then on, every request went to stable. Also reported: when the
engine's reconcile that applied the abort returned ("applied").

`--cli` aborts with the command people type, `python -m serinus.entrypoints.cli abort NAME`,
in a new process (the CLI's fast path records the operation and rings the driver's doorbell);
the clock then starts when that process is started, so the figure includes Python's start-up.
As many in-process aborts, interleaved in the same run, are the baseline of the printed ratio.
The driver runs in this process on the same SQLite file (`serinus.db` in the state folder, where
the CLI looks).

`--undo` adds, in the same run and through the same HAProxy, as many undo rounds: each rolls a
new version out to completion with `rollbackWindow` (v1 kept at full size, weight 0), then
`operations.request(..., UNDO, ...)` with the driver running (as `serinus run` keeps running
during an abort); the clock and the latency are the abort's (all new requests on v1). It prints
both and their ratio: an undo within the window should cost what an abort costs.

    python benchmarks/abort_latency.py [--aborts 20] [--replicas 2] [--undo] [--cli]
    python benchmarks/abort_latency.py --operator [--aborts 20]   # see abort_latency_operator.py
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from local_bench import LocalBench, median, percentile, print_json

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app import operations
from serinus.app.driver import POLL_SECONDS, drive
from serinus.app.engine import Reconciled
from serinus.core.intents import IntentKind
from serinus.core.status import Phase

PROBE = Path(__file__).with_name("version_probe.py")
STABLE = "v1"
# How long the canary takes half the traffic before each abort.
SETTLE_SECONDS = 0.5
# Aborts the rollout; returns the monotonic time the clock starts.
Abort = Callable[[LocalBench], Awaitable[float]]


def read_probe(path: Path) -> list[tuple[float, str]]:
    records = []
    for line in path.read_text().splitlines():
        sent, _, version = line.partition(" ")
        if version:  # the last line may be cut short while the probe writes it
            records.append((float(sent), version))
    return records


def round_latency(
    records: list[tuple[float, str]], aborted_at: float, checked_until: float
) -> tuple[float, int, int]:
    """(latency, canary answers just before the abort, requests checked after it)."""
    before = [v for t, v in records if aborted_at - SETTLE_SECONDS <= t < aborted_at]
    after = [(t, v) for t, v in records if aborted_at <= t <= checked_until]
    if not after or after[-1][1] != STABLE:
        raise RuntimeError(f"traffic did not return to {STABLE} after the abort at {aborted_at}")
    last_other = max((i for i, (_, v) in enumerate(after) if v != STABLE), default=-1)
    first_all_stable = after[last_other + 1][0]
    canary_before = sum(1 for v in before if v != STABLE)
    return max(0.0, first_all_stable - aborted_at), canary_before, len(after)


async def in_process_abort(bench: LocalBench) -> float:
    """The clock starts when the abort is recorded."""
    await operations.request(
        bench.store, bench.name, IntentKind.ABORT, actor="benchmark", source="abort_latency"
    )
    return time.monotonic()


class CliAbort:
    """`serinus abort NAME` as a new process; the clock starts when the process is started.
    Keeps how long each command took to return (`returned`)."""

    def __init__(self) -> None:
        self.returned: list[float] = []

    async def __call__(self, bench: LocalBench) -> float:
        started = time.monotonic()
        command = ["-m", "serinus.entrypoints.cli", "--state-dir", str(bench.state_dir)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *command,
            "abort",
            bench.name,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        self.returned.append(time.monotonic() - started)
        if process.returncode != 0:
            said = (err or out).decode(errors="replace").strip()
            raise RuntimeError(f"serinus abort exited with {process.returncode}: {said}")
        return started


async def one_round(
    bench: LocalBench, version: str, abort: Abort = in_process_abort
) -> tuple[float, float, float]:
    """Roll `version` out to 50% and abort it with `abort`.

    Returns the monotonic times at which the clock started (the abort), the engine applied it,
    and the rollout ended (canary torn down; the next round's canary gets no traffic before this).
    """
    paused = asyncio.Event()
    applied: list[float] = []

    def watch(result: Reconciled) -> None:
        status = result.status
        canary = status.canary
        if (
            status.phase is Phase.PAUSED
            and canary is not None
            and status.weights.get(canary.color) == 50
        ):
            paused.set()
        if status.phase is Phase.ABORTED and not applied:
            applied.append(time.monotonic())

    await bench.submit(version)
    driving = asyncio.create_task(bench.drive(watch))
    await asyncio.wait_for(paused.wait(), timeout=60)
    await asyncio.sleep(SETTLE_SECONDS)
    aborted_at = await abort(bench)
    status = await driving
    ended = time.monotonic()
    if status.phase is not Phase.ABORTED or status.stable is None:
        raise RuntimeError(f"round {version} ended {status.phase}, not Aborted")
    return aborted_at, applied[0], ended


async def undo_round(bench: LocalBench, version: str) -> tuple[float, float, float]:
    """Roll `version` out to completion (v1 kept by the window) and undo it while the driver
    runs. Returns the monotonic times at which the undo returned, the engine applied it (v1
    stable again), and the undone version was torn down."""
    paused = asyncio.Event()

    def at_pause(result: Reconciled) -> None:
        if result.status.phase is Phase.PAUSED:
            paused.set()

    await bench.submit(version)
    driving = asyncio.create_task(bench.drive(at_pause))
    await asyncio.wait_for(paused.wait(), timeout=60)
    await operations.request(
        bench.store, bench.name, IntentKind.PROMOTE_FULL, actor="benchmark", source="abort_latency"
    )
    status = await driving
    window = status.rollback_window
    if status.phase is not Phase.COMPLETED or window is None or window.version != STABLE:
        raise RuntimeError(f"round {version} ended {status.phase} without a window on {STABLE}")
    await asyncio.sleep(SETTLE_SECONDS)  # the new version takes all traffic meanwhile
    stop = asyncio.Event()
    applied: list[float] = []

    def watch(result: Reconciled) -> None:
        stable = result.status.stable
        if stable is not None and stable.version == STABLE and not applied:
            applied.append(time.monotonic())
        if applied and result.status.terminal:
            stop.set()

    undoing = asyncio.create_task(
        drive(bench.engine, bench.name, watch, keep_running=True, stop=stop, poll=POLL_SECONDS)
    )
    await asyncio.sleep(SETTLE_SECONDS)  # the driver is idle, as it is before an abort
    await operations.request(
        bench.store, bench.name, IntentKind.UNDO, actor="benchmark", source="abort_latency"
    )
    undone_at = time.monotonic()
    await asyncio.wait_for(undoing, timeout=60)
    return undone_at, applied[0], time.monotonic()


def summary(
    rounds: list[tuple[float, float, float]], records: list[tuple[float, str]]
) -> dict[str, Any]:
    latencies, applied, canary_before, checked = [], [], [], []
    for aborted_at, applied_at, ended in rounds:
        latency, canary, count = round_latency(records, aborted_at, ended)
        latencies.append(latency)
        applied.append(applied_at - aborted_at)
        canary_before.append(canary)
        checked.append(count)
    return {
        "allNewRequestsOnStableSeconds": {
            "p50": round(median(latencies), 4),
            "p99": round(percentile(latencies, 0.99), 4),
            "max": round(max(latencies), 4),
            "min": round(min(latencies), 4),
        },
        "engineAppliedSeconds": {
            "p50": round(median(applied), 4),
            "p99": round(percentile(applied, 0.99), 4),
        },
        "canaryAnswersBeforeEachAbortMin": min(canary_before),
        "requestsCheckedAfterEachAbortMin": min(checked),
        "latencies": [round(value, 4) for value in latencies],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    strategy = {
        "blueGreenCanary": {
            "steps": [{"setWeight": 50}, {"pause": {}}],
            "scaleDownDelay": 0,
            # Not 0: the canary's teardown then gets its own reconcile, so "applied" times
            # only the reconcile that moved the traffic.
            "abortScaleDownDelay": 0.5,
            # Only used by the undo rounds (an abort happens before any completion).
            **({"rollbackWindow": {"duration": "1h"}} if args.undo else {}),
        }
    }
    bench = LocalBench(
        "abortbench", replicas=args.replicas, strategy=strategy, startup_delay=args.startup_delay
    )
    cli = CliAbort() if args.cli else None
    async with bench:
        if cli is not None:  # the store the CLI finds: serinus.db in its --state-dir
            await bench.store.close()
            bench.store = SqliteStateStore(bench.state_dir / "serinus.db")
        await bench.start(STABLE)
        output = bench.state_dir / "probe.txt"
        probe = subprocess.Popen([sys.executable, str(PROBE), bench.url, str(output)])
        rounds: list[tuple[float, float, float]] = []
        undos: list[tuple[float, float, float]] = []
        baseline: list[tuple[float, float, float]] = []
        try:
            await asyncio.sleep(SETTLE_SECONDS)
            for index in range(args.aborts):
                rounds.append(await one_round(bench, f"v{index + 2}", cli or in_process_abort))
                if cli is not None:  # the baseline, interleaved so that both see the same load
                    baseline.append(await one_round(bench, f"b{index + 2}"))
                print(f"abort {index + 1}/{args.aborts} done", flush=True)
            for index in range(args.aborts if args.undo else 0):
                undos.append(await undo_round(bench, f"u{index + 2}"))
                print(f"undo {index + 1}/{args.aborts} done", flush=True)
            await asyncio.sleep(SETTLE_SECONDS)
        finally:
            probe.terminate()
            probe.wait(timeout=10)
            await bench.store.close()
        records = read_probe(output)
    span = records[-1][0] - records[0][0] if len(records) > 1 else 0.0
    figures = {
        "aborts": args.aborts,
        "replicas": args.replicas,
        "measuredFrom": "operations.request(ABORT) returned (in-process)",
        **summary(rounds, records),
        "probeRequestsPerSecond": round(len(records) / span, 1) if span else 0.0,
    }
    if cli is not None:
        figures["measuredFrom"] = "`python -m serinus.entrypoints.cli abort` started (new process)"
        figures["cliReturnedSeconds"] = {
            "p50": round(median(cli.returned), 4),
            "p99": round(percentile(cli.returned, 0.99), 4),
        }
        in_process = summary(baseline, records)
        figures["inProcess"] = in_process
        figures["cliOverInProcessP50"] = round(
            figures["allNewRequestsOnStableSeconds"]["p50"]
            / max(in_process["allNewRequestsOnStableSeconds"]["p50"], 1e-6),
            2,
        )
    if undos:
        undo = summary(undos, records)
        figures["undoWithinWindow"] = undo
        figures["undoOverAbortP50"] = round(
            undo["allNewRequestsOnStableSeconds"]["p50"]
            / max(figures["allNewRequestsOnStableSeconds"]["p50"], 1e-6),
            2,
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aborts", type=int, default=20, help="rounds (one abort each)")
    parser.add_argument("--replicas", type=int, default=2, help="replicas per version")
    parser.add_argument(
        "--startup-delay", type=float, default=0.3, help="seconds each replica takes to be ready"
    )
    parser.add_argument(
        "--undo",
        action="store_true",
        help="also as many undo rounds within a rollback window, and their ratio to the aborts",
    )
    parser.add_argument(
        "--cli",
        action="store_true",
        help="abort with `python -m serinus.entrypoints.cli abort NAME` (a new process)",
    )
    parser.add_argument(
        "--operator",
        action="store_true",
        help="the operator on a real kube-apiserver: operation recorded -> VirtualService written",
    )
    args = parser.parse_args()
    if args.operator:
        from abort_latency_operator import main as operator_main

        asyncio.run(operator_main(args.aborts, timeout=120.0))
        return
    if args.aborts < 1 or args.replicas < 1 or args.startup_delay < 0:
        parser.error("--aborts and --replicas must be >= 1; --startup-delay must be >= 0")
    figures = asyncio.run(run(args))
    latency, applied = figures["allNewRequestsOnStableSeconds"], figures["engineAppliedSeconds"]
    print()
    print(f"abort -> 100% of new requests on stable, over {figures['aborts']} aborts")
    print(f"(measured from: {figures['measuredFrom']})")
    print(f"{'':<34}{'p50 (ms)':>10}{'p99 (ms)':>10}")
    for label, figure in (
        ("all new requests on stable", latency),
        ("engine reconcile applied abort", applied),
    ):
        print(f"{label:<34}{figure['p50'] * 1000:>10.1f}{figure['p99'] * 1000:>10.1f}")
    if "cliReturnedSeconds" in figures:
        returned = figures["cliReturnedSeconds"]
        label = "`serinus abort` returned"
        print(f"{label:<34}{returned['p50'] * 1000:>10.1f}{returned['p99'] * 1000:>10.1f}")
        baseline = figures["inProcess"]["allNewRequestsOnStableSeconds"]
        label = "in-process abort: all new on v1"
        print(f"{label:<34}{baseline['p50'] * 1000:>10.1f}{baseline['p99'] * 1000:>10.1f}")
        print(f"cli / in-process (p50, all new requests on v1): {figures['cliOverInProcessP50']:g}")
    if "undoWithinWindow" in figures:
        undo = figures["undoWithinWindow"]
        for label, figure in (
            ("undo in window: all new on v1", undo["allNewRequestsOnStableSeconds"]),
            ("engine reconcile applied undo", undo["engineAppliedSeconds"]),
        ):
            print(f"{label:<34}{figure['p50'] * 1000:>10.1f}{figure['p99'] * 1000:>10.1f}")
        print(f"undo / abort (p50, all new requests on v1): {figures['undoOverAbortP50']:g}")
    print(
        f"probe: {figures['probeRequestsPerSecond']:g} requests/s; at least "
        f"{figures['canaryAnswersBeforeEachAbortMin']} canary answers before each abort"
    )
    print_json(figures)


if __name__ == "__main__":
    main()
