"""DeathWatch: the callback comes when the watched process ends, once, and not after cancel."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from serinus.adapters.routers.haproxy.watching import DeathWatch

DEADLINE_SECONDS = 10.0


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


async def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


async def test_the_callback_comes_once_when_the_process_ends() -> None:
    deaths: list[int] = []
    watch = DeathWatch(lambda: deaths.append(1))
    process = sleeper()
    try:
        watch.watch(process.pid)
        assert watch.pid == process.pid
        process.kill()
        await wait_for(lambda: deaths, "the death to be noticed")
        assert watch.pid is None  # one death, one call: watching ends with it
    finally:
        process.kill()
        process.wait()
    assert deaths == [1]


async def test_a_process_already_gone_is_reported_at_once() -> None:
    deaths: list[int] = []
    process = sleeper()
    process.kill()
    process.wait()  # reaped: the pid names nothing now
    DeathWatch(lambda: deaths.append(1)).watch(process.pid)
    await wait_for(lambda: deaths, "the death to be noticed")


async def test_watching_another_pid_or_cancelling_stops_the_first_watch() -> None:
    deaths: list[int] = []
    watch = DeathWatch(lambda: deaths.append(1))
    first, second, third = sleeper(), sleeper(), sleeper()
    try:
        watch.watch(first.pid)
        watch.watch(second.pid)
        first.kill()
        first.wait()
        watch.cancel()
        second.kill()
        second.wait()
        watch.watch(third.pid)
        third.kill()
        # The first two ended before the third: had their watches stayed, they would have
        # been reported first.
        await wait_for(lambda: deaths, "the third death to be noticed")
        assert deaths == [1] and watch.pid is None
    finally:
        for process in (first, second, third):
            process.kill()
            process.wait()


@pytest.mark.parametrize("pid", [0])
async def test_an_unwatchable_pid_is_no_error(pid: int) -> None:
    """pidfd_open refuses pid 0 (EINVAL): the router then relies on its next port call."""
    watch = DeathWatch(lambda: None)
    watch.watch(pid)
    assert watch.pid is None
