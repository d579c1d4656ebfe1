"""Abort, revert and supersede against real HAProxy under load: no failed request, and
`serinus run` ends only when the world is converged (issue 8)."""

from __future__ import annotations

import csv
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from local_mode import LocalMode, free_port, rollout_document

from serinus.core.status import Phase, RolloutStatus, other_color
from serinus.demo.scenario import LoadThread

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy"),
]
ABORTED_EXIT = 3


def haproxy_view(local: LocalMode) -> list[str]:
    """What HAProxy itself saw, per server with traffic or trouble (for failure messages):
    status, weight, UP->DOWN transitions, 5xx sent, connection/response errors, retries."""
    path = local.state_dir / "rollouts" / "web" / "haproxy" / "admin.sock"
    try:
        with socket.socket(socket.AF_UNIX) as admin:
            admin.settimeout(5)
            admin.connect(str(path))
            admin.sendall(b"show stat\n")
            text = b"".join(iter(lambda: admin.recv(65536), b"")).decode()
    except OSError as exc:
        return [f"HAProxy admin socket {path}: {exc}"]
    rows = csv.DictReader(text.lstrip("# ").splitlines())
    keys = ("status", "weight", "chkdown", "hrsp_5xx", "econ", "eresp", "wretr", "wredis")
    return [
        f"{row['pxname']}/{row['svname']}: " + " ".join(f"{k}={row.get(k, '')}" for k in keys)
        for row in rows
        if row.get("svname") not in (None, "FRONTEND")
        and any(row.get(k) not in ("", "0") for k in ("stot", "chkdown", "hrsp_5xx", "econ"))
    ]


def rolling(version: str, port: int) -> dict[str, Any]:
    """A rollingUpdate of 3 replicas that take 4 s each to be ready (time to act mid-way)."""
    document = rollout_document(
        version, port, replicas=3, extra_app_args=["--startup-delay", "4"], deadline=60
    )
    document["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    return document


def wait_until(
    local: LocalMode, what: str, check: Callable[[RolloutStatus], bool], timeout: float = 60
) -> RolloutStatus:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = local.status()
        if status is not None and check(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last status: {status}")


def mid_rolling_update(status: RolloutStatus) -> bool:
    """v2 replaced part of v1: v1 is down to fewer than 3 replicas and v2 serves some."""
    if status.canary is None or status.stable is None or status.phase is not Phase.PROGRESSING:
        return False
    return (
        status.replicas.get(status.stable.color, 3) < 3
        and status.ready.get(status.canary.color, 0) > 0
    )


def assert_converged_on(status: RolloutStatus | None, version: str) -> None:
    assert status is not None and status.stable is not None and status.terminal, status
    assert status.converged and not status.waiting_for, status
    assert status.stable.version == version
    color = status.stable.color
    assert status.weights == {color: 100, other_color(color): 0}
    assert status.ready.get(color) == 3 and not status.ready.get(other_color(color)), status


def stop(run: subprocess.Popen[str]) -> None:
    run.send_signal(signal.SIGTERM)
    run.wait(timeout=30)


def test_abort_in_the_middle_of_a_rolling_update_is_a_reverse_rolling_update(
    local: LocalMode,
) -> None:
    port = free_port()
    local.finish(local.start_run(local.write(rolling("v1", port))))
    load = LoadThread(f"http://127.0.0.1:{port}/", rate=150)
    load.start()
    try:
        run = local.start_run(local.write(rolling("v2", port)))
        wait_until(local, "the middle of the rolling update", mid_rolling_update)
        aborted = local.cli("abort", "web", "-m", "mid-way")
        assert aborted.returncode == 0, aborted.stderr
        assert run.wait(timeout=90) == ABORTED_EXIT, local.output(run)
    finally:
        report = load.stop()
    status = local.status()
    assert status is not None and status.phase is Phase.ABORTED
    assert_converged_on(status, "v1")
    assert report.sent > 300
    assert report.failed == 0, (
        report.failures_by_reason,
        [b for b in report.timeline if b.failed],
        haproxy_view(local),
        local.output(run),
    )


def test_reverting_the_version_mid_rolling_update_loses_no_request(local: LocalMode) -> None:
    port = free_port()
    first = local.write(rolling("v1", port), "v1.yaml")
    local.finish(local.start_run(first))
    load = LoadThread(f"http://127.0.0.1:{port}/", rate=150)
    load.start()
    try:
        run = local.start_run(local.write(rolling("v2", port), "v2.yaml"))
        wait_until(local, "the middle of the rolling update", mid_rolling_update)
        stop(run)
        reverted = local.start_run(first)
        assert reverted.wait(timeout=90) == 0, local.output(reverted)
    finally:
        report = load.stop()
    status = local.status()
    assert status is not None and status.phase is Phase.COMPLETED and status.canary is None
    assert_converged_on(status, "v1")
    assert report.versions.get("v2", 0) > 0  # v2 did serve before the revert
    assert report.failed == 0, (
        report.failures_by_reason,
        [b for b in report.timeline if b.failed],
        haproxy_view(local),
    )


def test_a_new_version_superseding_a_canary_loses_no_request(local: LocalMode) -> None:
    port = free_port()
    steps = [{"setWeight": 50}, {"pause": {}}]

    def canary(version: str) -> dict[str, Any]:
        document = rollout_document(version, port, replicas=3, steps=steps)
        document["spec"]["strategy"]["blueGreenCanary"]["scaleDownDelay"] = 0
        return document

    local.finish(local.start_run(local.write(canary("v1"), "v1.yaml")))
    load = LoadThread(f"http://127.0.0.1:{port}/", rate=150)
    load.start()
    try:
        run = local.start_run(local.write(canary("v2"), "v2.yaml"))
        local.wait_for({Phase.PAUSED}, version="v2")
        stop(run)
        run = local.start_run(local.write(canary("v3"), "v3.yaml"))
        local.wait_for({Phase.PAUSED}, version="v3")
        promoted = local.cli("promote", "web")
        assert promoted.returncode == 0, promoted.stderr
        assert run.wait(timeout=90) == 0, local.output(run)
    finally:
        report = load.stop()
    assert_converged_on(local.status(), "v3")
    assert report.versions.get("v2", 0) > 0 and report.versions.get("v3", 0) > 0
    assert report.failed == 0, (
        report.failures_by_reason,
        [b for b in report.timeline if b.failed],
        haproxy_view(local),
    )
