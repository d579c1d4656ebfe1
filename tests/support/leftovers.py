"""Finding processes serinus started under a folder, so a test that leaves one behind fails.

serinus marks what it starts with environment markers (the census' `SERINUS_STATE_DIR`, plus
`SERINUS_ROLLOUT`, ...): replicas carry their platform's state folder, HAProxy its router's
state folder, and a `serinus` command a test starts carries the folder the test gave it. A
process counts when such a marker, or (for an HAProxy started some other way) the
configuration path on its command line, lies under the folder. Zombies do not count: they
hold nothing but a pid, and whoever is their parent (init, here) collects them. pytest's own
`PYTEST_CURRENT_TEST`, inherited by everything a test starts, names the test that started it.

A test whose folder is not known beforehand (a demo in a `mkdtemp`), or a whole session, runs
inside `none_left_behind`: a tag unique to that run is put in the environment, everything started
inside inherits it, and what still runs with the tag and a serinus marker after is left behind.
The tag, unlike the test's name, tells apart two runs of one test at once (two people's).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil

from serinus.adapters.platforms.process.census import MARKER

WAIT_SECONDS = 15.0  # a process being stopped (SIGTERM, grace) may take this long to go
TAG = "LEFTOVERS_TEST_TAG"  # not SERINUS_*: serinus itself never reads it


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
    found: list[Leftover] = []
    for pid, command, env in _live_processes():
        marker, test = env.get(MARKER, ""), env.get("PYTEST_CURRENT_TEST", "")
        if _under(marker, root):
            found.append(Leftover(pid, " ".join(command), f"{MARKER}={marker}", test))
        elif any(_under(part, root) for part in command[1:]) and _is_haproxy(command):
            found.append(Leftover(pid, " ".join(command), "HAProxy configuration", test))
    return found


def tagged_processes(tag: str) -> list[Leftover]:
    """The live processes with a serinus marker started under `none_left_behind(tag)`."""
    return [
        Leftover(
            pid, " ".join(command), f"{MARKER}={env[MARKER]}", env.get("PYTEST_CURRENT_TEST", "")
        )
        for pid, command, env in _live_processes()
        if env.get(TAG) == tag and env.get(MARKER)
    ]


def _live_processes() -> Iterator[tuple[int, list[str], dict[str, str]]]:
    """Every live process but this one and its parents: pid, command line, environment."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    for process in psutil.process_iter(["pid", "status", "cmdline"]):
        if process.pid in mine or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            env = process.environ()
        except (psutil.Error, OSError):
            continue  # gone meanwhile, or another user's
        yield process.pid, [str(part) for part in process.info["cmdline"] or []], env


def wait_until_none_left(folder: Path, timeout: float = WAIT_SECONDS) -> list[Leftover]:
    """Wait (up to `timeout`) for the processes of `folder` to end; those still running."""
    return _wait_until_none(lambda: serinus_processes(folder), timeout)


def _wait_until_none(find: Callable[[], list[Leftover]], timeout: float) -> list[Leftover]:
    deadline = time.monotonic() + timeout
    while (left := find()) and time.monotonic() < deadline:
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
    _fail_on(wait_until_none_left(folder), who)


@contextmanager
def none_left_behind(who: str) -> Iterator[str]:
    """Tag everything started inside (through the environment); after, an AssertionError naming
    every process with a serinus marker still running with the tag (then killed)."""
    tag, before = uuid.uuid4().hex, os.environ.get(TAG)
    os.environ[TAG] = tag
    try:
        yield tag
    finally:
        if before is None:
            os.environ.pop(TAG, None)
        else:
            os.environ[TAG] = before
    _fail_on(_wait_until_none(lambda: tagged_processes(tag), WAIT_SECONDS), who)


def _fail_on(left: list[Leftover], who: str) -> None:
    if left:
        kill(left)
        listed = "\n  ".join(str(leftover) for leftover in left)
        raise AssertionError(f"{who} left {len(left)} serinus process(es) running:\n  {listed}")


def _under(path: str, root: str) -> bool:
    return bool(path) and (path == root or path.startswith(root.rstrip("/") + "/"))


def _is_haproxy(command: list[str]) -> bool:
    return bool(command) and Path(command[0]).name.startswith("haproxy")
