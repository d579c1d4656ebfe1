"""CLI start-up: wall time of the operations (`serinus abort`, `judge --approve`, `pause`,
`promote --full`), `get`, `status --no-wait` and `--help`, from process start to exit, median and
p90 of N runs each, now and (with --before REF) for the code of a git revision, in one run so
both see the same machine load; then the floors, what any command pays before its own work.

Each run is a fresh `python -m serinus.entrypoints.cli ...` on a state folder holding one rollout
that awaits a judgement, so each operation really checks and records an intent (the operations
take the fast path of cli/fast_path.py; `abort nope` is refused there and goes through typer).
`--before REF` runs the same commands on `git archive REF src` put first on PYTHONPATH, on a
state folder that code recorded itself, taking turns with the code of now run by run (a load that
changes meanwhile weighs on both alike). `--importtime CMD` prints the 15 heaviest imports of one
command instead.

    python benchmarks/cli_startup.py [--runs 15] [--before 7be1b96]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from local_bench import median, percentile, print_json

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "abort": ["abort", "web"],
    "judge": ["judge", "web", "--approve"],
    "pause": ["pause", "web"],
    "promote": ["promote", "web", "--full"],
    "abort nope": ["abort", "nope"],  # unknown: refused by the typer path, exit 1
    "get": ["get", "web"],
    "status": ["status", "web", "--no-wait"],
    "--help": ["--help"],
}
FAILING = {"abort nope": 1}  # commands whose expected exit code is not 0 (or 6)
# What a command pays before its own work: the interpreter, the standard library the fast path
# uses, typer (which loads rich), pydantic, and the core models with one Intent built, as the
# typer path of an operation does; printed beside the commands to show where the time goes.
FLOORS = {
    "python -c pass": ["-c", "pass"],
    "import sqlite3, json": ["-c", "import sqlite3, json"],
    "import asyncio": ["-c", "import asyncio"],
    "import typer": ["-c", "import typer"],
    "import pydantic": ["-c", "import pydantic"],
    "build an Intent": [
        "-c", "from serinus.core.intents import Intent, IntentKind; Intent(kind=IntentKind.ABORT)",
    ],
    "+ typer, operations, store": [
        "-c", "import typer, serinus.app.operations, serinus.adapters.stores.sqlite",
    ],
}  # fmt: skip
ROLLOUT = """
apiVersion: serinus.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: v2
  workload: {process: {command: [sleep, "1000"], replicas: 2}}
  trafficRouting: {haproxy: {port: 18080}}
  strategy: {blueGreenCanary: {steps: [{setWeight: 10}, {judgement: {timeout: 30m}}]}}
"""


# Records the rollout with the code under test (each version reads what it wrote itself).
PREPARE = """
import asyncio, sys, time
from pathlib import Path
from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app.settings import LocalSettings
from serinus.core.documents import load_rollout
from serinus.core.status import Phase, Revision, RolloutStatus

async def work():
    store = SqliteStateStore(LocalSettings(Path(sys.argv[1])).database)
    try:
        await store.submit(load_rollout(sys.argv[2], "benchmark"))
        status = RolloutStatus(
            phase=Phase.AWAITING_JUDGEMENT,
            stable=Revision(version="v1", color="blue"),
            canary=Revision(version="v2", color="green"),
            step_index=1, step_started_at=time.time(),
            weights={"blue": 90, "green": 10}, replicas={"blue": 2, "green": 2},
            ready={"blue": 2, "green": 2},
        )
        await store.save("web", status, [], [])
    finally:
        await store.close()

asyncio.run(work())
"""


def prepare(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """A state folder holding one rollout awaiting a judgement, and `env` pointing at it."""
    subprocess.run([sys.executable, "-c", PREPARE, str(folder), ROLLOUT], env=env, check=True)
    return {**env, "SERINUS_STATE_DIR": str(folder)}


def source_of(ref: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def timed(args: list[str], env: dict[str, str], expected: int = 0) -> float | None:
    """Seconds from start to exit; None when that version has no such command."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *(args if args[0] == "-c" else ["-m", "serinus.entrypoints.cli", *args])],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode == 2 and "No such command" in done.stderr:
        return None
    if done.returncode not in (expected, 6):  # status --no-wait on a rollout in progress: 6
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def measure(
    runs: int, envs: dict[str, dict[str, str]], commands: dict[str, list[str]] = COMMANDS
) -> dict[str, dict[str, dict[str, float]]]:
    """Figures per version (each with its own env) and command. The versions take turns run by
    run, so a load that changes during the measurement weighs on all of them alike."""
    times: dict[str, dict[str, list[float]]] = {version: {} for version in envs}
    for label, args in commands.items():
        expected = FAILING.get(label, 0)
        present = [v for v, env in envs.items() if timed(args, env, expected) is not None]
        for _ in range(runs):  # the first call above also warmed the page cache and .pyc files
            for version in present:
                elapsed = timed(args, envs[version], expected)
                assert elapsed is not None
                times[version].setdefault(label, []).append(elapsed)
    return {
        version: {
            label: {
                "median_ms": median(taken) * 1000,
                "p90_ms": percentile(taken, 0.9) * 1000,
            }
            for label, taken in measured.items()
        }
        for version, measured in times.items()
    }


def importtime(command: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "serinus.entrypoints.cli", *command.split()],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    rows = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
    cumulative = sorted(
        ((int(row[1]), row[2].rstrip()) for row in rows if row[1].strip().isdigit()), reverse=True
    )
    for micros, module in cumulative[:15]:
        print(f"{micros / 1000:8.1f} ms  {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", help="a git revision to measure as well (e.g. 7be1b96)")
    parser.add_argument("--importtime", metavar="CMD", help="e.g. 'abort web'")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="serinus-cli-") as scratch:
        base = {**os.environ, "COLUMNS": "120"}
        base.pop("PYTHONPATH", None)
        env = prepare(Path(scratch) / "state", base)
        if options.importtime:
            importtime(options.importtime, env)
            return
        envs = {"now": env}
        if options.before:
            older = source_of(options.before, Path(scratch) / "before")
            before = prepare(Path(scratch) / "state-before", {**base, "PYTHONPATH": str(older)})
            envs[f"before ({options.before})"] = before
        results = measure(options.runs, envs)
        floors = measure(options.runs, {"now": env}, FLOORS)["now"]
    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"serinus start-up to exit, {options.runs} runs each (ms: median / p90), load {load}")
    print(f"{'':22}" + "".join(f"{label:>18}" for label in COMMANDS))
    for version, figures in results.items():
        cells = "".join(
            f"{figures[c]['median_ms']:>9.0f} / {figures[c]['p90_ms']:<6.0f}"
            if c in figures
            else f"{'-':>18}"
            for c in COMMANDS
        )
        print(f"{version:22}{cells}")
    print("floor, same runs:")
    for label, figure in floors.items():
        print(f"  {label:28}{figure['median_ms']:>9.0f} / {figure['p90_ms']:<6.0f}")
    print_json({"runs": options.runs, "load": os.getloadavg(), **results, "floor": floors})


if __name__ == "__main__":
    main()
