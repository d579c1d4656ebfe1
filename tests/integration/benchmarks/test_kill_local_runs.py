"""benchmarks/kill_local.py, small profile: kill -9 of `serinus run` at each action boundary
of the local platform and at one random moment; every trial must end right (issue 8).

No timing is asserted; the HAProxy part must only come back at all (`--max-recovery 30`: the
script's own 30 s window), the figure is printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "kill_local.py"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_every_kill_9_trial_ends_right_and_leaves_nothing_behind() -> None:
    completed = subprocess.run(
        [
            *(sys.executable, str(SCRIPT), "--aimed", "1", "--random", "1"),
            *("--haproxy-kills", "2", "--max-recovery", "30"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    ended_right = {"trials": 1, "killed": 1, "right": 1, "duplicates": 0, "leftovers": 0}
    for point in ("spawn", "ready", "weights", "teardown"):
        assert figures[point] == ended_right, figures
    assert figures["random"]["right"] == figures["random"]["trials"] == 1
    assert figures["random"]["duplicates"] == figures["random"]["leftovers"] == 0
    haproxy = figures["haproxy"]
    assert len(haproxy["seconds"]) == 2
    assert None not in haproxy["seconds"], "HAProxy did not come back"
    print(f"\nHAProxy back after {haproxy['seconds']} s")
