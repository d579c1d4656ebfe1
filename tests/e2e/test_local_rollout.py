"""End to end in the local mode: real `serinus` processes, real HAProxy, real replicas, load."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest
from local_mode import LocalMode, free_port, rollout_document

from serinus.core.status import Phase
from serinus.demo.scenario import LoadThread

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy"),
]


def test_full_rollout_judgement_promote_and_abort_lose_no_request(local: LocalMode) -> None:
    port = free_port()
    steps = [
        {"setWeight": 10},
        {"judgement": {"instructions": "check", "inputs": [{"name": "ticket", "required": True}]}},
        {"setWeight": 50},
        {"pause": {}},
        {"setWeight": 100},
    ]
    first = local.write(rollout_document("v1", port, steps=steps))
    assert local.finish(local.start_run(first)).count("Completed") >= 1
    load = LoadThread(f"http://127.0.0.1:{port}/", rate=150)
    load.start()
    try:
        run = local.start_run(local.write(rollout_document("v2", port, steps=steps)))
        local.wait_for({Phase.AWAITING_JUDGEMENT}, version="v2")
        missing = local.cli("judge", "web", "--approve")
        assert missing.returncode != 0 and "inputs.ticket: required to approve" in missing.stderr
        approved = local.cli("judge", "web", "--approve", "--input", "ticket=OPS-1", "-m", "fine")
        assert approved.returncode == 0, approved.stderr
        local.wait_for({Phase.PAUSED}, version="v2")
        assert local.cli("promote", "web").returncode == 0
        assert run.wait(timeout=60) == 0
        status = local.status()
        assert status is not None and status.stable is not None
        assert status.stable.version == "v2" and status.phase is Phase.COMPLETED

        run = local.start_run(local.write(rollout_document("v3", port, steps=steps)))
        local.wait_for({Phase.AWAITING_JUDGEMENT}, version="v3")
        deadline = time.monotonic() + 30
        while load.generator.answered("v3") == 0:  # the canary takes its 10% before the abort
            assert time.monotonic() < deadline, "v3 answered no request at 10%"
            time.sleep(0.05)
        aborted = local.cli("abort", "web", "-m", "testing abort")
        assert aborted.returncode == 0, aborted.stderr
        assert run.wait(timeout=60) == 3  # the exit code of an aborted rollout
    finally:
        report = load.stop()
    assert report.failed == 0, (report.failures_by_reason, [b for b in report.timeline if b.failed])
    # The load covered every phase: v1 before its promotion ended, v2, and the v3 canary before
    # the abort (how many requests that is depends on how fast the machine runs the rollout).
    assert all(report.versions.get(version, 0) > 0 for version in ("v1", "v2", "v3")), report
    history = json.loads(local.cli("history", "web", "-o", "json").stdout)
    judged = [op for op in history["operations"] if op["kind"] == "judge"]
    assert judged[-1]["inputs"] == {"ticket": "OPS-1"} and judged[-1]["comment"] == "fine"
    assert judged[-1]["outcome"] == "done"


def test_kill_9_mid_rollout_then_a_new_run_continues_without_provisioning_again(
    local: LocalMode,
) -> None:
    port = free_port()
    steps = [{"setWeight": 10}, {"pause": {"duration": 4}}, {"setWeight": 100}]
    local.finish(local.start_run(local.write(rollout_document("v1", port, steps=steps))))
    second = local.write(rollout_document("v2", port, steps=steps))
    run = local.start_run(second)
    local.wait_for({Phase.PAUSED}, version="v2")
    records = local.state_dir / "rollouts" / "web" / "replicas" / "green.json"
    pids_before = sorted(r["pid"] for r in json.loads(records.read_text())["members"])
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert local.status() is not None
    rerun = local.start_run(second)
    assert rerun.wait(timeout=60) == 0
    status = local.status()
    assert status is not None and status.phase is Phase.COMPLETED
    assert status.stable is not None and status.stable.version == "v2"
    pids_after = sorted(r["pid"] for r in json.loads(records.read_text())["members"])
    assert pids_after == pids_before  # adopted, not provisioned again
    history = json.loads(local.cli("history", "web", "-o", "json").stdout)
    started = [e for e in history["events"] if e["type"] == "RolloutStarted"]
    assert [e["data"]["version"] for e in started] == ["v1", "v2"]


def test_a_version_whose_command_fails_fails_the_rollout_and_blue_keeps_the_traffic(
    local: LocalMode,
) -> None:
    port = free_port()
    local.finish(local.start_run(local.write(rollout_document("v1", port))))
    broken = rollout_document("v2", port, extra_app_args=["--no-such-flag"])
    run = local.start_run(local.write(broken))
    assert run.wait(timeout=60) == 4
    status = local.status()
    assert status is not None and status.phase is Phase.FAILED
    assert "exited" in status.message
    assert status.stable is not None and status.stable.version == "v1"
    assert status.weights[status.stable.color] == 100


def test_a_version_that_never_becomes_ready_fails_at_the_deadline(local: LocalMode) -> None:
    port = free_port()
    local.finish(local.start_run(local.write(rollout_document("v1", port))))
    slow = rollout_document("v2", port, deadline=3, extra_app_args=["--startup-delay", "600"])
    run = local.start_run(local.write(slow))
    assert run.wait(timeout=60) == 4
    status = local.status()
    assert status is not None and "deadline" in status.message
    assert status.stable is not None and status.weights[status.stable.color] == 100


def test_bad_input_is_reported_with_the_field_and_changes_nothing(local: LocalMode) -> None:
    document = rollout_document("v1", free_port())
    document["spec"]["strategy"]["blueGreenCanary"]["steps"] = [{"setWeight": 120}, {"paus": {}}]
    result = local.cli("run", str(local.write(document)))
    assert result.returncode == 2
    assert "spec.strategy.blueGreenCanary.steps[0].setWeight" in result.stderr
    assert "spec.strategy.blueGreenCanary.steps[1].paus: unknown field" in result.stderr
    assert not (local.state_dir / "serinus.db").exists()


def test_port_in_use_and_missing_haproxy_are_clear_errors(local: LocalMode) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        result = local.cli("run", str(local.write(rollout_document("v1", taken))))
    assert result.returncode != 0
    assert str(taken) in result.stderr
    document = rollout_document("v1", free_port(), name="other")
    document["spec"]["trafficRouting"]["haproxy"]["binary"] = "/nonexistent/haproxy"
    result = local.cli("run", str(local.write(document, "other.yaml")))
    assert result.returncode != 0
    assert "haproxy" in result.stderr.lower() and "install" in result.stderr.lower()
