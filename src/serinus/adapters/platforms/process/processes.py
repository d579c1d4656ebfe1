"""Starting, recognising and stopping replica processes.

A replica runs detached in a session (and process group) of its own, so it outlives serinus and
can be stopped with everything it started. A process is known by its pid together with its
creation time, so a recycled pid is never mistaken for (or signalled as) a replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from serinus.adapters.private import open_private, private_folder

LOG_TAIL_LINES = 5
_POLL_SECONDS = 0.05
_KILL_WAIT_SECONDS = 5.0
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def render(template: str, *, port: int, version: str) -> str:
    """Replace the `{port}` and `{version}` placeholders (other braces are left alone)."""
    return template.replace("{port}", str(port)).replace("{version}", version)


def file_name_part(text: str) -> str:
    return _UNSAFE_IN_FILE_NAME.sub("_", text) or "_"


def free_loopback_port() -> int:
    """A port free now; the replica may still lose it to a race, then it exits and is retried."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Spawned:
    pid: int
    create_time: float
    log_offset: int  # where this process's output starts in its (appended) log file
    popen: subprocess.Popen[bytes]


def spawn(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None, log_path: Path) -> Spawned:
    """Start a detached process logging to `log_path`; OSError when it cannot be started."""
    private_folder(log_path.parent)
    with os.fdopen(open_private(log_path), "ab") as log:
        offset = log.tell()
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
    try:
        create_time = float(psutil.Process(popen.pid).create_time())
    except psutil.NoSuchProcess:
        create_time = 0.0  # already gone and reaped: it will be seen as exited
    return Spawned(pid=popen.pid, create_time=create_time, log_offset=offset, popen=popen)


def is_alive(pid: int, create_time: float) -> bool:
    """Whether the process `pid` that started at `create_time` still runs (zombies do not)."""
    try:
        process = psutil.Process(pid)
        return bool(
            abs(process.create_time() - create_time) < 0.01
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def exit_status(pid: int, create_time: float, popen: subprocess.Popen[bytes] | None) -> int | None:
    """The exit code of a process that has ended (negative: killed by that signal); None when
    unknown (not our child: someone else collected it). Reaps our zombie children, also those
    a previous platform in this same process started (it has no Popen handle for them)."""
    if popen is not None:
        return popen.poll()
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - create_time) >= 0.01:
            return None  # the pid was recycled: not ours to collect
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ChildProcessError):
        return None
    return os.waitstatus_to_exitcode(status) if reaped else None


def describe_exit(code: int | None) -> str:
    if code is None:
        return "command exited"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"command was killed by {name}"
    return f"command exited with code {code}"


def log_tail(path: Path, offset: int = 0, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines written to `path` after `offset` (empty if none)."""
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            start = max(offset, size - 64 * 1024)
            log.seek(start)
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


@dataclass(frozen=True)
class Running:
    """A process to stop: identity, and our Popen handle when we are its parent."""

    pid: int
    create_time: float
    popen: subprocess.Popen[bytes] | None = None


async def terminate(processes: Sequence[Running], grace_seconds: float) -> None:
    """SIGTERM each process group, wait up to `grace_seconds`, then SIGKILL what remains.

    Signals go only to processes whose identity still matches, so a recycled pid is safe.
    """
    alive = [p for p in processes if is_alive(p.pid, p.create_time)]
    for process in alive:
        _signal_group(process.pid, signal.SIGTERM)
    pending = await _wait_gone(alive, time.monotonic() + grace_seconds)
    for process in pending:
        _signal_group(process.pid, signal.SIGKILL)
    await _wait_gone(pending, time.monotonic() + _KILL_WAIT_SECONDS)
    for process in alive:
        # The group's leader is gone (its pid cannot be reused while the group has members):
        # kill what it left behind (a shell's children, say).
        _signal_group(process.pid, signal.SIGKILL)
    for process in processes:
        exit_status(process.pid, process.create_time, process.popen)  # no zombie stays


async def _wait_gone(processes: list[Running], deadline: float) -> list[Running]:
    while True:
        processes = [p for p in processes if not _ended(p)]
        if not processes or time.monotonic() >= deadline:
            return processes
        await asyncio.sleep(_POLL_SECONDS)


def _ended(process: Running) -> bool:
    if process.popen is not None and process.popen.poll() is not None:
        return True
    return not is_alive(process.pid, process.create_time)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pgid, signum)
