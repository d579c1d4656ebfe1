"""Stopping replica processes: SIGTERM first, SIGKILL after the grace period, never a stranger."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from serinus.adapters.platforms.process.processes import (
    Running,
    exit_status,
    is_alive,
    log_tail,
    render,
    spawn,
    terminate,
)

pytestmark = pytest.mark.integration

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('up', flush=True); time.sleep(60)"
)


def wait_for_line(log: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared in {log}"
        time.sleep(0.02)


async def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(
    tmp_path: Path,
) -> None:
    log = tmp_path / "stubborn.log"
    spawned = spawn([sys.executable, "-c", IGNORES_SIGTERM], {}, None, log)
    try:
        wait_for_line(log, "up")
        process = Running(spawned.pid, spawned.create_time, spawned.popen)
        await terminate([process], grace_seconds=0.2)
        assert not is_alive(spawned.pid, spawned.create_time)
        assert spawned.popen.returncode == -9
    finally:
        spawned.popen.kill()
        spawned.popen.wait()


async def test_a_process_with_another_create_time_is_not_signalled(tmp_path: Path) -> None:
    log = tmp_path / "bystander.log"
    spawned = spawn([sys.executable, "-c", IGNORES_SIGTERM], {}, None, log)
    try:
        wait_for_line(log, "up")
        impostor = Running(spawned.pid, spawned.create_time - 100.0)  # a recycled pid
        await terminate([impostor], grace_seconds=0.1)
        assert is_alive(spawned.pid, spawned.create_time)
    finally:
        spawned.popen.kill()
        spawned.popen.wait()


def test_exit_status_reaps_a_child_without_its_popen(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(4)"])
    create_time = psutil.Process(child.pid).create_time()
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert exit_status(child.pid, create_time, None) == 4
    assert not psutil.pid_exists(child.pid) or not is_alive(child.pid, create_time)
    child.returncode = 4  # collected above; keeps Popen from waiting for it again


def test_render_replaces_only_the_placeholders() -> None:
    assert render('{"port": {port}, "v": "{version}", "x": {x}}', port=80, version="v1") == (
        '{"port": 80, "v": "v1", "x": {x}}'
    )


def test_log_tail_reads_only_after_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "r.log"
    log.write_text("old 1\nold 2\n")
    offset = log.stat().st_size
    with log.open("a") as out:
        out.write("".join(f"line {i}\n" for i in range(8)) + "\n")
    assert log_tail(log, offset) == "line 3\nline 4\nline 5\nline 6\nline 7"
    assert log_tail(log, log.stat().st_size) == ""
    assert log_tail(tmp_path / "missing.log") == ""
