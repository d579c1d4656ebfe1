"""benchmarks/operator_scale.py runs end to end on 5 Rollouts and reports every figure.

No timing is asserted: the point is that one operator process drives every Rollout through all
its timed pauses and weight steps, and that each pause's delay was measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "operator_scale.py"

pytestmark = pytest.mark.integration


def test_operator_scale_runs_on_five_rollouts() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--rollouts", "5", "--timeout", "60"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert len(lines) > 1, "a human-readable table comes before the JSON line"
    figures = json.loads(lines[-1])
    assert figures["rollouts"] == 5
    assert figures["pausesMeasured"] == figures["pausesExpected"] == 15
    for key in ("delayP50Seconds", "delayP99Seconds", "operatorCpuPercentMean"):
        assert isinstance(figures[key], float)
    assert figures["operatorRssPeakMiB"] > 0
