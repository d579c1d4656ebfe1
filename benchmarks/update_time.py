"""Full update time: rollingUpdate (maxSurge 1, maxUnavailable 1) vs blueGreenCanary, same run.

Each strategy gets its own rollout of N `serinus.demo.app` replicas (each takes about
--startup-delay seconds to become ready) behind its own HAProxy. v1 is deployed first, then the
clock starts when v2 is submitted and the rollout is driven exactly as `serinus run` drives it.
Two times per strategy:

- "all traffic on new": the reconcile that put 100% of the weight on v2 returned;
- "old torn down": the rollout is Completed (v1's replicas stopped; scaleDownDelay is 0).

Equal pause lengths: rollingUpdate has no pause between batches, so blueGreenCanary's
steps are setWeight 10 -> pause P -> setWeight 100 with P = --pause, 0 by default: neither
strategy waits to observe. A P > 0 measures blueGreenCanary with an observation pause the
baseline does not have (the comparison then favours rollingUpdate).

    python benchmarks/update_time.py [--replicas 20] [--startup-delay 2] [--pause 0]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from typing import Any

from local_bench import LocalBench, print_json

from serinus.app.engine import Reconciled


@dataclass(frozen=True)
class UpdateTime:
    strategy: str
    all_traffic_on_new: float
    old_torn_down: float


def strategies(pause: float) -> dict[str, dict[str, Any]]:
    return {
        "rollingUpdate": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
        "blueGreenCanary": {
            "blueGreenCanary": {
                "steps": [{"setWeight": 10}, {"pause": {"duration": pause}}, {"setWeight": 100}],
                "scaleDownDelay": 0,
                "abortScaleDownDelay": 0,
            }
        },
    }


async def measure(name: str, strategy: dict[str, Any], args: argparse.Namespace) -> UpdateTime:
    bench = LocalBench(
        name.lower(),
        replicas=args.replicas,
        strategy=strategy,
        startup_delay=args.startup_delay,
        deadline=max(60.0, 10 * args.startup_delay),
    )
    async with bench:
        await bench.start("v1")
        traffic_on_new: list[float] = []

        def watch(result: Reconciled) -> None:
            status = result.status
            on_new = any(
                weight == 100 and status.version_of(color) == "v2"
                for color, weight in status.weights.items()
            )
            if on_new and not traffic_on_new:
                traffic_on_new.append(time.monotonic() - started)

        started = time.monotonic()
        await bench.roll_out("v2", watch)
        done = time.monotonic() - started
    assert traffic_on_new, f"{name}: the rollout completed without 100% on v2"
    return UpdateTime(name, round(traffic_on_new[0], 2), round(done, 2))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results = {}
    for name, strategy in strategies(args.pause).items():
        print(f"measuring {name} ({args.replicas} replicas) ...", flush=True)
        results[name] = await measure(name, strategy, args)
    rolling, bgc = results["rollingUpdate"], results["blueGreenCanary"]
    return {
        "replicas": args.replicas,
        "startupDelaySeconds": args.startup_delay,
        "pauseSeconds": args.pause,
        "pauses": (
            f"blueGreenCanary: setWeight 10 -> pause {args.pause:g}s -> setWeight 100; "
            "rollingUpdate: no pause between batches"
        ),
        "rollingUpdate": {
            "allTrafficOnNewSeconds": rolling.all_traffic_on_new,
            "oldTornDownSeconds": rolling.old_torn_down,
        },
        "blueGreenCanary": {
            "allTrafficOnNewSeconds": bgc.all_traffic_on_new,
            "oldTornDownSeconds": bgc.old_torn_down,
        },
        "ratioAllTrafficOnNew": round(bgc.all_traffic_on_new / rolling.all_traffic_on_new, 3),
        "ratioOldTornDown": round(bgc.old_torn_down / rolling.old_torn_down, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=20, help="replicas per version (N)")
    parser.add_argument(
        "--startup-delay", type=float, default=2.0, help="seconds each replica takes to be ready"
    )
    parser.add_argument(
        "--pause", type=float, default=0.0, help="blueGreenCanary's pause at 10%%, seconds"
    )
    args = parser.parse_args()
    if args.replicas < 1 or args.startup_delay < 0 or args.pause < 0:
        parser.error("--replicas must be >= 1; --startup-delay and --pause must be >= 0")
    figures = asyncio.run(run(args))
    print()
    print(figures["pauses"])
    print(f"{'strategy':<17}{'all traffic on new (s)':>24}{'old torn down (s)':>20}")
    for name in ("rollingUpdate", "blueGreenCanary"):
        row = figures[name]
        print(f"{name:<17}{row['allTrafficOnNewSeconds']:>24.2f}{row['oldTornDownSeconds']:>20.2f}")
    print(
        f"{'ratio bgc/rolling':<17}{figures['ratioAllTrafficOnNew']:>24.3f}"
        f"{figures['ratioOldTornDown']:>20.3f}"
    )
    print_json(figures)


if __name__ == "__main__":
    main()
