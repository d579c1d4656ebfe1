"""The model-based safety test (tests/unit/app/test_model.py) on a long profile, on demand.

Runs the same hypothesis state machine as CI with many more examples and steps, then prints
what the invariant checks saw (reconciles, weight writes checked, teardowns checked, terminal
states checked for convergence, aborts with a ready stable, examples per strategy) and, on the
last line, every figure as one JSON object. A violated invariant ends the run with hypothesis'
minimal failing sequence and exit code 1.

    python benchmarks/model_long.py [--examples 1000] [--steps 80] [--derandomize] [--no-shrink]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "support"), str(ROOT / "tests" / "unit" / "app")]

from model_world import STATS  # noqa: E402
from test_model import RolloutModel  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--derandomize", action="store_true", help="the same examples each run")
    parser.add_argument("--no-shrink", action="store_true", help="report failures unshrunk")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # injected failures log a warning each
    profile = settings(
        max_examples=args.examples,
        stateful_step_count=args.steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=args.derandomize,
        phases=[p for p in Phase if not (args.no_shrink and p is Phase.shrink)],
    )
    started = time.perf_counter()
    failure = None
    try:
        run_state_machine_as_test(RolloutModel, settings=profile)
    except AssertionError as exc:
        failure = str(exc)
        for note in getattr(exc, "__notes__", []):
            print(note)
    seconds = time.perf_counter() - started
    figures = {"seconds": round(seconds, 1), "examples": args.examples, **STATS}
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if failure is not None:
        print(f"INVARIANT VIOLATED: {failure}")
    print(json.dumps({**figures, "violated": failure is not None}))
    return 1 if failure is not None else 0


if __name__ == "__main__":
    sys.exit(main())
