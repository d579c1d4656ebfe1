"""Driving one rollout in the local mode: a single driver per rollout, reconciling until done.

Only one driver acts on a rollout: `DriverLock` (from `app.driver_lock`, re-exported here for
the callers that import it from this module) is held while it drives.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from serinus.app.driver_lock import DriverLock

if TYPE_CHECKING:  # the CLI reads the lock without loading the engine
    from serinus.app.engine import Engine, Reconciled

POLL_SECONDS = 0.2
BELL_SECONDS = 0.02  # how often the doorbell (the store's data_version) is looked at
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
    try:
        return await _driving(engine, name, on_update, keep_running, stop, poll, bell)
    finally:
        bell.close()


async def _driving(
    engine: Engine,
    name: str,
    on_update: Callable[[Reconciled], None],
    keep_running: bool,
    stop: asyncio.Event | None,
    poll: float,
    bell: StoreBell,
) -> Reconciled:
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
    """The local doorbell: another connection committed to the SQLite store (e.g. an abort).

    It asks SQLite `PRAGMA data_version` on a connection of its own: the value changes once a
    commit of another connection is visible (and, rarely, when a writer restarts the WAL after a
    checkpoint: one reconcile for nothing). The WAL file grows before a commit is visible (its
    frames are written, then the commit is published), so a bell on the file's size rings while
    the new intent is not yet readable, and may stay quiet once it is. A look costs about two
    microseconds (benchmarks/store_bell.py), far less than a reconcile. Stores without a
    database file never ring, and the driver then wakes on its poll as before.
    """

    def __init__(self, database: Path | None = None) -> None:
        self._conn = _reader(database) if database is not None else None
        self._seen = self._version()

    @classmethod
    def of(cls, store: object) -> StoreBell:
        path = getattr(store, "path", None)
        return cls(path if isinstance(path, Path) else None)

    @property
    def watching(self) -> bool:
        return self._conn is not None

    def _version(self) -> int | None:
        if self._conn is None:
            return None
        try:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:  # busy or gone: no ring, the poll still finds the change
            return self._seen
        return int(row[0])

    def rearm(self) -> None:
        """Ring only for commits from now on (the driver's own save rings once, harmlessly)."""
        self._seen = self._version()

    def rang(self) -> bool:
        return self._conn is not None and self._version() != self._seen

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _reader(database: Path) -> sqlite3.Connection | None:
    """A read-only look at an existing database (never creates one); None if it cannot open.
    timeout 0: a look never waits for a lock, it is repeated a few milliseconds later."""
    try:
        uri = f"{database.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)
    except (sqlite3.Error, OSError, ValueError):
        return None


async def _wait(delay: float, stop: asyncio.Event | None, bell: StoreBell) -> None:
    """Wait `delay` seconds, less when `stop` is set or the bell rings."""
    deadline = time.monotonic() + delay
    while (remaining := deadline - time.monotonic()) > 0:
        step = min(remaining, BELL_SECONDS) if bell.watching else remaining
        if stop is None:
            await asyncio.sleep(step)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=step)
            if stop.is_set():
                return
        if bell.rang():
            return
