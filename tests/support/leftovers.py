"""Finding processes serinus started under a folder, so a test that leaves one behind fails.

serinus marks what it starts with environment markers (the census' `SERINUS_STATE_DIR`, plus
`SERINUS_ROLLOUT`, ...): replicas carry their platform's state folder, HAProxy its router's
state folder, and a `serinus` command a test starts carries the folder the test gave it. A
process counts when such a marker, or (for an HAProxy started some other way) the
configuration path on its command line, lies under the folder. Zombies do not count: they
hold nothing but a pid, and whoever is their parent (init, here) collects them. pytest's own
`PYTEST_CURRENT_TEST`, inherited by everything a test starts, names the test that started it.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import psutil

from serinus.adapters.platforms.process.census import MARKER

WAIT_SECONDS = 15.0  # a process being stopped (SIGTERM, grace) may take this long to go


@dataclass(frozen=True)
class Leftover:
    pid: int
    command: str
    marker: str
    started_by: str = ""  # the test running when it was started, if pytest was

    def __str__(self) -> str:
        by = f", started during {self.started_by}" if self.started_by else ""
        return f"pid {self.pid} ({self.marker}{by}): {self.command[:160]}"


def serinus_processes(folder: Path) -> list[Leftover]:
    """The live (not zombie) processes started for `folder` or anything below it."""
    root = str(folder.absolute())
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found: list[Leftover] = []
    for process in psutil.process_iter(["pid", "status", "cmdline"]):
        if process.pid in mine or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        command = [str(part) for part in process.info["cmdline"] or []]
        try:
            env = process.environ()
        except (psutil.Error, OSError):
            continue  # gone meanwhile, or another user's
        marker, test = env.get(MARKER, ""), env.get("PYTEST_CURRENT_TEST", "")
        if _under(marker, root):
            found.append(Leftover(process.pid, " ".join(command), f"{MARKER}={marker}", test))
        elif any(_under(part, root) for part in command[1:]) and _is_haproxy(command):
            found.append(Leftover(process.pid, " ".join(command), "HAProxy configuration", test))
    return found


def wait_until_none_left(folder: Path, timeout: float = WAIT_SECONDS) -> list[Leftover]:
    """Wait (up to `timeout`) for the processes of `folder` to end; those still running."""
    deadline = time.monotonic() + timeout
    while (left := serinus_processes(folder)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kill(leftovers: list[Leftover]) -> None:
    """SIGKILL them (and their process groups, when they lead one): nothing lingers after the
    test that failed because of them."""
    for leftover in leftovers:
        with suppress(ProcessLookupError, PermissionError):
            if os.getpgid(leftover.pid) == leftover.pid:
                os.killpg(leftover.pid, signal.SIGKILL)
            else:
                os.kill(leftover.pid, signal.SIGKILL)


def check_none_left(folder: Path, who: str) -> None:
    """AssertionError naming every process `who` left running under `folder` (then killed)."""
    left = wait_until_none_left(folder)
    if left:
        kill(left)
        listed = "\n  ".join(str(leftover) for leftover in left)
        raise AssertionError(f"{who} left {len(left)} serinus process(es) running:\n  {listed}")


def _under(path: str, root: str) -> bool:
    return bool(path) and (path == root or path.startswith(root.rstrip("/") + "/"))


def _is_haproxy(command: list[str]) -> bool:
    return bool(command) and Path(command[0]).name.startswith("haproxy")
