"""`serinus demo --quick --auto-approve --json`: the README's main job, run for real."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

CLI = [sys.executable, "-m", "serinus.entrypoints.cli"]
DEMO = [*CLI, "demo"]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy"),
]


def test_quick_demo_promotes_v2_and_rolls_faulty_v3_back() -> None:
    state = tempfile.mkdtemp(prefix="sd", dir="/tmp")
    try:
        result = subprocess.run(
            [*DEMO, "--quick", "--auto-approve", "--json"],
            env={**os.environ, "SERINUS_STATE_DIR": state},
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        shutil.rmtree(state, ignore_errors=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["outcomes"] == {"v2": "Completed", "v3": "Aborted"}
    assert summary["stable"] == "v2"
    assert summary["requests"]["sent"] > 1000
    # The only failures users may see are v3's injected errors before it is aborted.
    assert set(summary["requests"]["failuresByReason"]) <= {"HTTP 500"}
    last = summary["shares"][-2]["shares"]
    assert last == {"v2": 1.0}  # after the abort every answer comes from v2
    v2_phases = [p["phase"] for p in summary["phases"] if p["rollout"].startswith("v2")]
    if summary["analysisBy"] == "prometheus":
        # the analysis step (Progressing) decides: v2 passes all four metrics, v3 fails
        assert v2_phases[:4] == ["Provisioning", "Progressing", "AwaitingJudgement", "ScalingDown"]
        v2, v3 = summary["analysis"]["v2"], summary["analysis"]["v3"]
        assert v2["phase"] == "Successful" and set(v2["metrics"].values()) == {"Successful"}
        assert v3["phase"] == "Failed" and "Failed" in v3["metrics"].values()
        # HAProxy retried v3's errors on other replicas; the analysis read the replicas' counters
        assert summary["requests"]["failed"] == 0, summary["requests"]
        assert summary["shares"] and any("v3" in b["versions"] for b in summary["shares"])
    else:
        assert shutil.which("prometheus") is None  # the guard is only the fallback
        assert v2_phases[:3] == ["Provisioning", "AwaitingJudgement", "ScalingDown"]
    assert not any(
        b["failed"] for b in summary["shares"] if not b["versions"].keys() & {"v3"}
    )  # no failure at all outside v3's canary window


def test_sigterm_stops_the_demo_and_everything_it_started() -> None:
    state = Path(tempfile.mkdtemp(prefix="sd", dir="/tmp"))
    demo = subprocess.Popen(
        [*DEMO, "--quick", "--auto-approve", "--json"],
        env={**os.environ, "SERINUS_STATE_DIR": str(state)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        records = state / "rollouts" / "demo" / "replicas" / "blue.json"
        pidfile = state / "rollouts" / "demo" / "haproxy" / "haproxy.pid"
        deadline = time.monotonic() + 60
        while not (records.exists() and pidfile.exists()) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # v1 is up and the load is running
        started = [
            psutil.Process(member["pid"])
            for member in json.loads(records.read_text())["members"]
            if member.get("pid")
        ]
        started.append(psutil.Process(int(pidfile.read_text().split()[0])))
        demo.send_signal(signal.SIGTERM)
        _, errors = demo.communicate(timeout=60)
        assert demo.returncode == 143, errors
        assert "demo stopped" in errors
        gone, alive = psutil.wait_procs(started, timeout=10)
        assert not alive, f"left running: {[p.pid for p in alive]}"
        assert len(gone) == len(started) >= 4
    finally:
        if demo.poll() is None:
            demo.kill()
        environment = {**os.environ, "SERINUS_STATE_DIR": str(state)}
        subprocess.run([*CLI, "delete", "demo"], env=environment, capture_output=True, check=False)
        shutil.rmtree(state, ignore_errors=True)
