"""The rollback window against real HAProxy under load (issue 13 item 2): a completed rollout
keeps v1 at full size; `serinus undo` then moves all traffic back to it with 0 failed requests
and without starting a single process."""

from __future__ import annotations

import shutil
from typing import Any

import httpx
import pytest
from leftovers import serinus_processes
from local_mode import LocalMode, free_port, rollout_document

from serinus.core.status import Phase
from serinus.demo.load import version_of
from serinus.demo.scenario import LoadThread

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy"),
]


def with_window(version: str, port: int) -> dict[str, Any]:
    document = rollout_document(version, port, replicas=3, steps=[{"setWeight": 50}])
    strategy = document["spec"]["strategy"]["blueGreenCanary"]
    strategy.update(scaleDownDelay=0, abortScaleDownDelay=1, rollbackWindow={"duration": "10m"})
    return document


def census(local: LocalMode) -> dict[int, str]:
    """pid -> command of every process serinus started for this state folder."""
    return {p.pid: p.command for p in serinus_processes(local.state_dir)}


def test_undo_within_a_full_window_is_instant_and_starts_nothing(local: LocalMode) -> None:
    port = free_port()
    local.finish(local.start_run(local.write(with_window("v1", port), "v1.yaml")))
    load = LoadThread(f"http://127.0.0.1:{port}/", rate=150)
    load.start()
    try:
        assert "v2" in local.finish(local.start_run(local.write(with_window("v2", port))), 90)
        status = local.status()
        assert status is not None and status.phase is Phase.COMPLETED and status.terminal
        window = status.rollback_window
        assert window is not None and (window.version, window.replicas) == ("v1", 3)
        before = census(local)
        kept = {pid for pid, command in before.items() if "--version v1" in command}
        assert len(kept) == 3, before

        undone = local.cli("undo", "web")
        assert undone.returncode == 0, undone.stderr
        driven = local.cli("run", "web", "--plain", timeout=90)
        assert driven.returncode == 0, driven.stdout + driven.stderr
        after = census(local)
        answers = [version_of(httpx.get(f"http://127.0.0.1:{port}/", timeout=5)) for _ in range(60)]
    finally:
        report = load.stop()
    status = local.status()
    assert status is not None and status.stable is not None and status.terminal
    assert status.stable.version == "v1" and status.rollback_window is None
    assert status.weights[status.stable.color] == 100
    assert set(answers) == {"v1"}, answers
    started = {pid: command for pid, command in after.items() if pid not in before}
    assert started == {}, f"the undo started processes: {started}"
    assert kept <= set(after), "v1's replicas are the ones that were kept"
    assert report.failed == 0, (report.failures_by_reason, [b for b in report.timeline if b.failed])
    assert report.versions.get("v2", 0) > 0 and report.versions.get("v1", 0) > 0
    history = local.cli("history", "web")
    assert "rolled back to v1 within the rollback window" in history.stdout, history.stdout
