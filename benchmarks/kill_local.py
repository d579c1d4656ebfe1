"""kill -9 of `serinus run` at each action boundary of the local platform, and at random moments.

Each trial, in a fresh state folder: `serinus run` deploys v1 (2 replicas behind HAProxy), then
`serinus run` of v2 is killed with SIGKILL, either by itself at a named point
(`SERINUS_CRASH_AT`, see `serinus.adapters.crash_points`: spawn, ready, weights, teardown) or
by this script after a random delay; then `serinus run` of v2 runs again to completion. Checks:

- ended right: the second run exits 0 (Completed), HAProxy serves only v2, and the replicas in
  the process table are exactly green v2 0..1;
- no duplicate provisioning: every slot (blue v1 0..1, green v2 0..1) was started exactly once
  (v1 never started again, no v2 slot started twice), as the replicas' shell noted;
- nothing left: after `serinus delete`, no replica and no HAProxy of the rollout runs.

A last part kills HAProxy (master and workers) `--haproxy-kills` times while v2 is paused at
50% and prints how long until requests are answered again (p50 and max): the router watches the
master it started and starts it again at once. The time runs from the SIGKILL to the first
answer; the script does not wait for the killed processes to be collected first (HAProxy is
daemonized, its zombies are init's, and waiting for init measured init, about 2 s here).

    python benchmarks/kill_local.py [--aimed 3] [--random 10] [--seed 1] [--haproxy-kills 10]

Prints a table (trials, killed, ended right, duplicate provisioning, processes left after
`serinus delete`), then the figures as one JSON line; exits 1 when a trial did not end right
or HAProxy was not back within `--max-recovery` seconds (2 s, issue 8's bound).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from local_bench import free_port

from serinus.adapters.crash_points import ENV, POINTS
from serinus.adapters.platforms.process.census import find_replicas

NAME = "crashy"
REPLICAS = 2
RUN_TIMEOUT = 120.0


@dataclass
class Trial:
    aim: str  # a crash point, or "random"
    killed: bool = False  # the run of v2 really died by SIGKILL
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    duplicates: bool = False  # a slot started more than once (or v1 started again)
    leftovers: bool = False  # a replica or HAProxy still ran after `serinus delete`

    @property
    def right(self) -> bool:
        return not self.problems


class World:
    """One state folder, one rollout, run through the real `serinus` command."""

    def __init__(self, pause: str = "1s") -> None:
        # Short: HAProxy's admin socket path must stay under 100 characters.
        self.root = Path(tempfile.mkdtemp(prefix="sk", dir="/tmp"))
        self.port, self.stats = free_port(), free_port()
        self.pause = pause
        self.env = {**os.environ, "SERINUS_STATE_DIR": str(self.root)}
        self.env.pop(ENV, None)

    @property
    def rollout_dir(self) -> Path:
        return self.root / "rollouts" / NAME

    def spec(self, version: str) -> Path:
        # The shell notes each start at once (before Python even loads), so a replica stopped
        # right after a restart still counts; exec keeps the pid and the markers.
        app = f"exec {sys.executable} -m serinus.demo.app --port {{port}} --version {{version}}"
        note = f'echo "$SERINUS_COLOR-$SERINUS_VERSION-$SERINUS_REPLICA" >> {self.starts_file}'
        command = ["/bin/sh", "-c", f"{note}; {app} --startup-delay 0.2"]
        document: dict[str, Any] = {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": NAME},
            "spec": {
                "version": version,
                "workload": {
                    "process": {
                        "command": command,
                        "replicas": REPLICAS,
                        "readiness": {"path": "/healthz", "periodSeconds": 0.1},
                        "terminationGraceSeconds": 5,
                    }
                },
                "trafficRouting": {"haproxy": {"port": self.port, "statsPort": self.stats}},
                "strategy": {
                    "blueGreenCanary": {
                        "steps": [{"setWeight": 50}, {"pause": {"duration": self.pause}}],
                        "scaleDownDelay": "0s",
                    }
                },
                "progressDeadlineSeconds": 60,
            },
        }
        path = self.root / f"{version}.json"
        path.write_text(json.dumps(document))
        return path

    def serinus(self, *args: str, crash: str | None = None) -> subprocess.Popen[bytes]:
        env = dict(self.env) if crash is None else {**self.env, ENV: crash}
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("serinus")), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def run(self, version: str, crash: str | None = None) -> tuple[int, str]:
        process = self.serinus("run", "--plain", str(self.spec(version)), crash=crash)
        _, err = process.communicate(timeout=RUN_TIMEOUT)
        return process.returncode, err.decode(errors="replace")[-400:]

    def replicas(self) -> set[tuple[str, str, int]]:
        found = find_replicas(self.rollout_dir / "replicas", NAME)
        return {(f.color, f.version, f.replica) for f in found}

    def haproxy_pids(self) -> list[int]:
        config = str(self.rollout_dir / "haproxy" / "haproxy.cfg")
        pids = []
        for process in psutil.process_iter():
            try:
                if config in process.cmdline() and process.status() != psutil.STATUS_ZOMBIE:
                    pids.append(process.pid)
            except psutil.Error:
                continue
        return pids

    @property
    def starts_file(self) -> Path:
        return self.root / "starts.txt"

    def starts(self) -> Counter[str]:
        """`<color>-<version>-<replica>` -> how many processes were started for that slot."""
        lines = self.starts_file.read_text().split() if self.starts_file.exists() else []
        return Counter(lines)

    def answers(self, count: int = 20) -> Counter[str]:
        seen: Counter[str] = Counter()
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            for _ in range(count):
                try:
                    answer = client.get(f"http://127.0.0.1:{self.port}/")
                    seen[
                        str(answer.json()["version"]) if answer.status_code == 200 else "failed"
                    ] += 1
                except (httpx.HTTPError, ValueError, KeyError):
                    seen["failed"] += 1
        return seen

    def delete(self) -> tuple[list[str], bool]:
        """Problems of `serinus delete`, and whether it left a process running."""
        process = self.serinus("delete", NAME)
        _, err = process.communicate(timeout=RUN_TIMEOUT)
        problems = [] if process.returncode == 0 else [f"delete exited {process.returncode}"]
        if left := self.replicas():
            problems.append(f"replicas left after delete: {sorted(left)}")
        if left_haproxy := self.haproxy_pids():
            problems.append(f"HAProxy left after delete: {left_haproxy}")
        leftovers = bool(left or left_haproxy)
        return problems + ([err.decode()[-200:]] if problems else []), leftovers

    def clean(self) -> None:
        for found in find_replicas(self.rollout_dir / "replicas", NAME):
            _kill(found.pid)
        for pid in self.haproxy_pids():
            _kill(pid)
        shutil.rmtree(self.root, ignore_errors=True)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def trial(aim: str, rng: random.Random, random_window: float) -> Trial:
    result = Trial(aim)
    world = World()
    started = time.monotonic()
    try:
        code, err = world.run("v1")
        if code != 0:
            result.problems.append(f"v1 run exited {code}: {err}")
            return result
        if aim == "random":
            process = world.serinus("run", "--plain", str(world.spec("v2")))
            time.sleep(rng.uniform(0.0, random_window))
            process.kill()
            process.communicate(timeout=RUN_TIMEOUT)
            result.killed = process.returncode == -9
        else:
            code, _ = world.run("v2", crash=f"{aim}@1")
            result.killed = code == -9
        code, err = world.run("v2")
        if code != 0:
            result.problems.append(f"second v2 run exited {code}: {err}")
        if (running := world.replicas()) != {("green", "v2", i) for i in range(REPLICAS)}:
            result.problems.append(f"replicas running: {sorted(running)}")
        if (served := world.answers()) != Counter({"v2": 20}):
            result.problems.append(f"HAProxy served {dict(served)}")
        starts = world.starts()
        expected = {
            f"{c}-{v}-{i}" for c, v in (("blue", "v1"), ("green", "v2")) for i in range(REPLICAS)
        }
        if starts != Counter(expected):
            result.duplicates = True
            result.problems.append(f"slots started other than once each: {dict(starts)}")
        problems, result.leftovers = world.delete()
        result.problems += problems
    except subprocess.TimeoutExpired as exc:
        result.problems.append(f"timed out: {exc}")
    finally:
        result.seconds = time.monotonic() - started
        world.clean()
    return result


def haproxy_outages(kills: int) -> list[float | None]:
    """Seconds from each kill -9 of HAProxy (mid-rollout, v2 at 50%, `serinus run` driving) to
    the next answered request; None when it did not come back within 30 s (or the rollout did
    not get there)."""
    world = World(pause="120s")
    try:
        if world.run("v1")[0] != 0:
            return [None] * kills
        driver = world.serinus("run", "--plain", str(world.spec("v2")))
        deadline = time.monotonic() + 60
        while world.answers(10).get("v2", 0) == 0:  # the canary takes traffic: mid-rollout
            if time.monotonic() > deadline:
                return [None] * kills
        outages = [_kill_haproxy_once(world) for _ in range(kills)]
        driver.kill()
        driver.communicate()
        world.delete()
        return outages
    finally:
        world.clean()


def _kill_haproxy_once(world: World) -> float | None:
    pid_file = world.rollout_dir / "haproxy" / "haproxy.pid"
    master = psutil.Process(int(pid_file.read_text().split()[0]))
    family = [master, *master.children(recursive=True)]
    for process in family:
        process.kill()
    killed = time.monotonic()
    while any(_running(process) for process in family):  # a dying HAProxy could still answer
        if time.monotonic() - killed > 5:
            return None
        time.sleep(0.002)
    with httpx.Client(timeout=0.5, trust_env=False) as client:
        while time.monotonic() - killed < 30:
            try:
                if client.get(f"http://127.0.0.1:{world.port}/").status_code == 200:
                    back = time.monotonic() - killed
                    time.sleep(1.0)  # let the driver settle before the next kill
                    return back
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    return None


def _running(process: psutil.Process) -> bool:
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aimed", type=int, default=3, help="trials per crash point")
    parser.add_argument("--random", type=int, default=10, help="trials at random moments")
    parser.add_argument("--points", nargs="+", choices=POINTS, default=list(POINTS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=float, default=4.0, help="random kill within (s)")
    parser.add_argument("--haproxy-kills", type=int, default=10, help="kill -9 of HAProxy")
    parser.add_argument("--no-haproxy", action="store_true", help="skip the HAProxy kills")
    parser.add_argument(
        "--max-recovery", type=float, default=2.0, help="HAProxy back within (s), else exit 1"
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    aims = [point for point in args.points for _ in range(args.aimed)] + ["random"] * args.random
    trials = []
    for aim in aims:
        done = trial(aim, rng, args.window)
        trials.append(done)
        verdict = "ok" if done.right else "WRONG: " + "; ".join(done.problems)
        print(f"  {aim:<9} killed={done.killed!s:<5} {done.seconds:5.1f} s  {verdict}", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} (the machine is shared)")
    header = f"{'aim':<10}{'trials':>7}{'killed':>8}{'ended right':>13}{'duplicates':>12}"
    print(f"\n{header}{'left':>6}")
    figures: dict[str, Any] = {}
    for aim in dict.fromkeys(aims):
        group = [t for t in trials if t.aim == aim]
        right = sum(t.right for t in group)
        killed = sum(t.killed for t in group)
        duplicates = sum(t.duplicates for t in group)
        left = sum(t.leftovers for t in group)
        print(
            f"{aim:<10}{len(group):>7}{killed:>8}{right:>8}/{len(group):<4}{duplicates:>12}{left:>6}"
        )
        figures[aim] = {
            "trials": len(group),
            "killed": killed,
            "right": right,
            "duplicates": duplicates,
            "leftovers": left,
        }
    if not args.no_haproxy:
        outages = haproxy_outages(args.haproxy_kills)
        shown = ", ".join("never" if o is None else f"{o:.3f}" for o in outages)
        print(f"\nkill -9 of HAProxy mid-rollout, answered again after (s): {shown}")
        back = [o for o in outages if o is not None]
        summary = {
            "kills": len(outages),
            "back": len(back),
            "p50": statistics.median(back) if back else None,
            "max": max(back) if len(back) == len(outages) else None,
        }
        if summary["p50"] is not None:
            worst = "never" if summary["max"] is None else f"{summary['max']:.3f} s"
            print(f"HAProxy recovery: p50 {summary['p50']:.3f} s, max {worst}")
        figures["haproxy"] = {**summary, "seconds": outages, "limit": args.max_recovery}
    print(json.dumps(figures), flush=True)
    return figures


def failed(figures: dict[str, Any]) -> bool:
    """A trial did not end right, or HAProxy was not back within the limit after a kill."""
    haproxy = figures.get("haproxy")
    slow = haproxy is not None and (haproxy["max"] is None or haproxy["max"] >= haproxy["limit"])
    trials = [group for key, group in figures.items() if key != "haproxy"]
    return slow or any(group["right"] < group["trials"] for group in trials)


if __name__ == "__main__":
    sys.exit(1 if failed(main()) else 0)
