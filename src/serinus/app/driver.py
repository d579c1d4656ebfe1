"""Driving one rollout in the local mode: a single driver per rollout, reconciling until done.

The driver lock is an flock on a file in the rollout's state folder: the kernel drops it when the
process dies (even on kill -9), so a new `serinus run` can take over at once, and two drivers
never act on the same rollout together.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from serinus.core.errors import Conflict

if TYPE_CHECKING:  # the CLI reads the lock without loading the engine
    from serinus.app.engine import Engine, Reconciled

POLL_SECONDS = 0.2
BELL_SECONDS = 0.02  # how often the doorbell (the store's files) is looked at between reconciles
BACKOFF_SECONDS = 3.0  # the longest wait after failed reconciles (a store or router down)


class DriverLock:
    def __init__(self, folder: Path, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "driver.lock"
        self.name = name
        self._fd: int | None = None

    def __enter__(self) -> DriverLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise Conflict(
                f"rollout {self.name} is already driven by pid {holder}; "
                "operate on it with promote/abort/judge from here instead"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def holder(folder: Path) -> int | None:
        """The pid driving the rollout in `folder`, or None when nobody does."""
        path = folder / "driver.lock"
        if not path.exists():
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        finally:
            os.close(fd)
        return None


async def drive(
    engine: Engine,
    name: str,
    on_update: Callable[[Reconciled], None],
    *,
    keep_running: bool = False,
    stop: asyncio.Event | None = None,
    poll: float = POLL_SECONDS,
) -> Reconciled:
    """Reconcile until the rollout is done (or forever with keep_running, or until `stop`).

    Done means terminal *and* converged (`RolloutStatus.terminal`): an abort waiting for the
    stable replicas keeps the driver going. A failing reconcile (its error is in the result the
    live view shows) is retried with a growing delay, never ends the loop.
    """
    await engine.router.prepare()
    bell = StoreBell.of(engine.store)
    failures = 0
    while True:
        bell.rearm()  # before reading the store: a commit during the reconcile still rings
        result = await engine.reconcile(name)
        on_update(result)
        done = result.status.terminal and result.error is None and not keep_running
        if done or (stop is not None and stop.is_set()):
            return result
        failures = failures + 1 if result.error is not None else 0
        delay = poll
        if failures:
            delay = min(poll * 2 ** (failures - 1), max(poll, BACKOFF_SECONDS))
        elif result.decision is not None and result.decision.wake_at is not None:
            delay = max(0.0, min(poll, result.decision.wake_at - time.time()))
        await _wait(delay, stop, bell)


class StoreBell:
    """The local doorbell: another process committed to the store (e.g. recorded an abort).

    A SQLite store in WAL mode appends every commit to its `-wal` file, so a change of that
    file's size or mtime is the bell; looking at it costs one stat, far less than a reconcile.
    Stores without files never ring, and the driver then wakes on its poll as before.
    """

    def __init__(self, files: tuple[Path, ...] = ()) -> None:
        self.files = files
        self._seen = self._signature()

    @classmethod
    def of(cls, store: object) -> StoreBell:
        path = getattr(store, "path", None)
        if not isinstance(path, Path):
            return cls()
        return cls((path, path.with_name(path.name + "-wal")))

    def _signature(self) -> tuple[tuple[int, int], ...]:
        found = []
        for file in self.files:
            with contextlib.suppress(OSError):
                info = file.stat()
                found.append((info.st_mtime_ns, info.st_size))
        return tuple(found)

    def rearm(self) -> None:
        """Ring only for commits from now on (the driver's own save rings once, harmlessly)."""
        self._seen = self._signature()

    def rang(self) -> bool:
        return bool(self.files) and self._signature() != self._seen


async def _wait(delay: float, stop: asyncio.Event | None, bell: StoreBell) -> None:
    """Wait `delay` seconds, less when `stop` is set or the bell rings."""
    deadline = time.monotonic() + delay
    while (remaining := deadline - time.monotonic()) > 0:
        step = min(remaining, BELL_SECONDS) if bell.files else remaining
        if stop is None:
            await asyncio.sleep(step)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=step)
            if stop.is_set():
                return
        if bell.rang():
            return
