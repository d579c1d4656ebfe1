"""Driving one rollout in the local mode: a single driver per rollout, reconciling until done.

Only one driver acts on a rollout: `DriverLock` (from `app.driver_lock`, re-exported here for
the callers that import it from this module) is held while it drives.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from serinus.app.driver_lock import DriverLock

if TYPE_CHECKING:  # the CLI reads the lock without loading the engine
    from serinus.app.engine import Engine, Reconciled

POLL_SECONDS = 0.2
BELL_SECONDS = 0.02  # how often the doorbell (the store's files) is looked at between reconciles
BACKOFF_SECONDS = 3.0  # the longest wait after failed reconciles (a store or router down)

__all__ = ["DriverLock", "StoreBell", "drive"]


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
