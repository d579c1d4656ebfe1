"""The benchmark scripts run end to end on tiny settings and print their figures as JSON.

No timing is asserted (figures depend on the machine); the point is that each script drives
real rollouts through HAProxy to the end, cleans up, and reports every figure it promises.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy"),
]


def run_script(name: str, *args: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert len(lines) > 1, "a human-readable table comes before the JSON line"
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def test_update_time_compares_both_strategies() -> None:
    figures = run_script("update_time.py", "--replicas", "2", "--startup-delay", "0.2")
    assert figures["replicas"] == 2
    for strategy in ("rollingUpdate", "blueGreenCanary"):
        times = figures[strategy]
        assert 0 < times["allTrafficOnNewSeconds"] <= times["oldTornDownSeconds"]
    assert figures["ratioAllTrafficOnNew"] > 0
    assert figures["ratioOldTornDown"] > 0
    assert "rollingUpdate" in figures["pauses"]


def test_abort_latency_reports_percentiles_over_every_abort() -> None:
    figures = run_script(
        "abort_latency.py", "--aborts", "2", "--replicas", "1", "--startup-delay", "0.1"
    )
    assert figures["aborts"] == 2
    assert len(figures["latencies"]) == 2
    latency = figures["allNewRequestsOnStableSeconds"]
    assert 0 <= latency["min"] <= latency["p50"] <= latency["p99"] <= latency["max"]
    assert figures["engineAppliedSeconds"]["p50"] >= 0
    # The canary really had traffic to take back, and the probe saw answers afterwards.
    assert figures["canaryAnswersBeforeEachAbortMin"] > 0
    assert figures["requestsCheckedAfterEachAbortMin"] > 0


def test_abort_latency_undo_rounds_report_their_ratio_to_the_aborts() -> None:
    figures = run_script(
        "abort_latency.py", "--aborts", "2", "--replicas", "1", "--startup-delay", "0.1",
        "--undo",
    )  # fmt: skip
    undo = figures["undoWithinWindow"]
    assert len(undo["latencies"]) == 2
    assert all(isinstance(value, float) for value in undo["allNewRequestsOnStableSeconds"].values())
    assert undo["requestsCheckedAfterEachAbortMin"] > 0
    ratio = figures["undoOverAbortP50"]
    assert isinstance(ratio, int | float) and not isinstance(ratio, bool) and ratio >= 0


def test_abort_latency_through_the_cli_times_the_command_s_process() -> None:
    figures = run_script(
        "abort_latency.py", "--aborts", "2", "--replicas", "1", "--startup-delay", "0.1",
        "--cli",
    )  # fmt: skip
    assert "serinus.entrypoints.cli abort" in figures["measuredFrom"]
    assert len(figures["latencies"]) == 2
    assert figures["canaryAnswersBeforeEachAbortMin"] > 0
    returned = figures["cliReturnedSeconds"]
    assert 0 < returned["p50"] <= returned["p99"]
    assert len(figures["inProcess"]["latencies"]) == 2  # the baseline, in the same run
    assert figures["cliOverInProcessP50"] >= 0


def test_store_bell_compares_both_bells_over_spilled_transactions() -> None:
    figures = run_script("store_bell.py", "--looks", "100", "--gaps", "5")
    assert figures["fileBellMicroseconds"] > 0 and figures["dataVersionMicroseconds"] > 0
    assert figures["ringsBeforeVisible"]["fileBell"] == 5  # the WAL grew before each commit
    assert figures["commitsMissed"] == {"fileBell": 0, "dataVersion": 0}


def test_zero_loss_counts_requests_through_a_rollout_and_an_abort() -> None:
    figures = run_script(
        "zero_loss.py", "--rate", "100", "--replicas", "1", "--hold", "0.5",
        "--startup-delay", "0.1",
    )  # fmt: skip
    assert figures["outcomes"] == {"v2": "Completed", "v3": "Aborted"}
    assert figures["stable"] == "v2"
    assert figures["sent"] > 0
    assert isinstance(figures["failed"], int)
    assert sum(figures["failuresByReason"].values()) == figures["failed"]
    assert figures["achievedRate"] > 0
    assert {"v1", "v2", "v3"} <= set(figures["versions"])
