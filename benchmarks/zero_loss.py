"""Zero loss: requests sent and failed during a full rollout and an abort, at >= 300 requests/s.

One rollout of `serinus.demo.app` replicas behind HAProxy, driven in this process as
`serinus run` drives it. The load generator runs as a separate process
(`python -m serinus.demo.load URL --rate R`) so that neither it nor the engine starves the other;
it counts failures on the client side (non-2xx answers and transport errors), never HAProxy's.

Sequence, all under load: v1 is live; v2 goes setWeight 10 -> pause 2s -> setWeight 50 ->
pause {} -> (promote) -> setWeight 100, and v1 is torn down after scaleDownDelay; then v3 goes
the same way up to 50% and is aborted: all traffic back on v2, v3 torn down.

    python benchmarks/zero_loss.py [--rate 300] [--replicas 3] [--hold 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from typing import Any

from local_bench import LocalBench, print_json

from serinus.app import operations
from serinus.app.engine import Reconciled
from serinus.core.intents import IntentKind
from serinus.core.status import Phase, RolloutStatus


async def roll_out_until_held(
    bench: LocalBench, version: str, operation: IntentKind, hold: float
) -> RolloutStatus:
    """Roll `version` out; at its 50% pause, wait `hold` seconds, then promote or abort it."""
    held = asyncio.Event()

    def watch(result: Reconciled) -> None:
        status = result.status
        canary = status.canary
        if (
            status.phase is Phase.PAUSED
            and canary is not None
            and status.weights.get(canary.color) == 50
        ):
            held.set()

    await bench.submit(version)
    driving = asyncio.create_task(bench.drive(watch))
    await asyncio.wait_for(held.wait(), timeout=120)
    await asyncio.sleep(hold)
    await operations.request(
        bench.store, bench.name, operation, actor="benchmark", source="zero_loss"
    )
    return await driving


async def run(args: argparse.Namespace) -> dict[str, Any]:
    strategy = {
        "blueGreenCanary": {
            "steps": [
                {"setWeight": 10},
                {"pause": {"duration": 2}},
                {"setWeight": 50},
                {"pause": {}},
                {"setWeight": 100},
            ],
            "scaleDownDelay": 2,
            "abortScaleDownDelay": 2,
        }
    }
    bench = LocalBench(
        "lossbench", replicas=args.replicas, strategy=strategy, startup_delay=args.startup_delay
    )
    async with bench:
        await bench.start("v1")
        load = subprocess.Popen(
            [
                *(sys.executable, "-m", "serinus.demo.load", bench.url),
                *("--rate", str(args.rate), "--workers", str(args.workers)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            await asyncio.sleep(1.0)
            started = time.monotonic()
            v2 = await roll_out_until_held(bench, "v2", IntentKind.PROMOTE, args.hold)
            promoted = time.monotonic()
            v3 = await roll_out_until_held(bench, "v3", IntentKind.ABORT, args.hold)
            aborted = time.monotonic()
            await asyncio.sleep(1.0)
        finally:
            load.send_signal(signal.SIGTERM)
            output, _ = load.communicate(timeout=30)
    report = json.loads(output.strip().splitlines()[-1])
    return {
        "targetRate": args.rate,
        "achievedRate": report["achievedRate"],
        "durationSeconds": report["durationSeconds"],
        "sent": report["sent"],
        "failed": report["failed"],
        "failuresByReason": report["failuresByReason"],
        "versions": report["versions"],
        "replicas": args.replicas,
        "workers": args.workers,
        "outcomes": {"v2": str(v2.phase), "v3": str(v3.phase)},
        "stable": v3.stable.version if v3.stable else None,
        "fullRolloutSeconds": round(promoted - started, 2),
        "abortedRolloutSeconds": round(aborted - promoted, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second")
    parser.add_argument("--replicas", type=int, default=3, help="replicas per version")
    parser.add_argument(
        "--hold", type=float, default=3.0, help="seconds at 50%% before promote/abort"
    )
    parser.add_argument(
        "--workers", type=int, default=64, help="load generator's concurrent connections"
    )
    parser.add_argument(
        "--startup-delay", type=float, default=0.5, help="seconds each replica takes to be ready"
    )
    args = parser.parse_args()
    if args.rate <= 0 or args.replicas < 1 or args.hold < 0 or args.startup_delay < 0:
        parser.error("--rate must be > 0, --replicas >= 1, --hold and --startup-delay >= 0")
    figures = asyncio.run(run(args))
    print()
    print("full rollout v1 -> v2 (promoted) + aborted rollout v2 -> v3, under steady load")
    for label, key in (
        ("target rate (req/s)", "targetRate"),
        ("achieved rate (req/s)", "achievedRate"),
        ("duration (s)", "durationSeconds"),
        ("sent", "sent"),
        ("failed", "failed"),
        ("failures by reason", "failuresByReason"),
        ("answers by version", "versions"),
        ("outcomes", "outcomes"),
    ):
        print(f"{label:<24}{figures[key]}")
    print_json(figures)


if __name__ == "__main__":
    main()
