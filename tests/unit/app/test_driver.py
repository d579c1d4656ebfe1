"""`drive`: runs until done *and* converged, and outlives failing dependencies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from model_world import Clock
from strategy_world import make_rollout

from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores import sqlite_file
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app import operations
from serinus.app.driver import StoreBell, drive
from serinus.app.engine import Engine, Reconciled
from serinus.core.errors import StoreError
from serinus.core.intents import Intent, IntentKind
from serinus.core.status import Phase

ROLLING: dict[str, Any] = {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


class _LockedStore(MemoryStateStore):
    """The database is locked for the first `failures` saves."""

    failures = 0

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreError("database is locked")
        await super().save(*args, **kwargs)


async def test_a_store_error_is_retried_and_shown_never_ending_the_run() -> None:
    store = _LockedStore()
    engine = Engine(store, MemoryRouter(), MemoryPlatform(MemoryWorld()), clock=Clock())
    await operations.submit(store, make_rollout(ROLLING))
    store.failures = 3
    seen: list[Reconciled] = []
    result = await drive(engine, "web", seen.append, poll=0.001)
    assert [r.error for r in seen[:3]] == ["database is locked"] * 3, "the live view shows it"
    assert result.error is None and result.status.terminal
    assert result.status.phase is Phase.COMPLETED


async def test_an_abort_of_a_rolling_update_is_driven_until_converged() -> None:
    world, store, router = MemoryWorld(), MemoryStateStore(), MemoryRouter()
    engine = Engine(store, router, MemoryPlatform(world), clock=Clock())
    rollout = make_rollout(ROLLING)
    await operations.submit(store, rollout)
    await drive(engine, "web", lambda _: None, poll=0.001)
    await operations.submit(store, rollout.with_version("v2"))
    for _ in range(20):
        if (await engine.reconcile("web")).status.replicas.get("blue") == 0:
            break
    world.observes_until_ready = 4
    await operations.request(store, "web", IntentKind.ABORT, actor="ana", source="test")
    seen: list[Reconciled] = []
    result = await drive(engine, "web", seen.append, poll=0.001)
    waiting = [r.status.message for r in seen if r.status.phase is Phase.ABORTED]
    assert any("waiting for replicas of v1 to be ready" in m for m in waiting), waiting
    assert any(not r.status.terminal for r in seen if r.status.phase is Phase.ABORTED)
    assert result.status.terminal and router.weights == {"blue": 100, "green": 0}
    assert "green" not in world.colors, "drive ended only once v2 was scaled down"


async def test_an_operation_recorded_by_another_process_wakes_the_driver(tmp_path: Path) -> None:
    database = tmp_path / "serinus.db"
    store, other = SqliteStateStore(database), SqliteStateStore(database)  # two processes
    try:
        steps = [{"setWeight": 10}, {"pause": {}}]
        rollout = make_rollout({"blueGreenCanary": {"steps": steps, "abortScaleDownDelay": 0}})
        engine = Engine(store, MemoryRouter(), MemoryPlatform(MemoryWorld()), clock=Clock())
        await operations.submit(store, rollout)
        await drive(engine, "web", lambda _: None, poll=0.001)
        await operations.submit(store, rollout.with_version("v2"))
        paused = asyncio.Event()

        def update(result: Reconciled) -> None:
            if result.status.phase is Phase.PAUSED:
                paused.set()

        await drive(engine, "web", update, stop=paused, poll=0.001)
        # An hour's poll: only the doorbell can bring the driver back in time.
        driving = asyncio.create_task(drive(engine, "web", lambda _: None, poll=3600))
        await operations.request(other, "web", IntentKind.ABORT, actor="ana", source="cli")
        result = await asyncio.wait_for(driving, timeout=30)
        assert result.status.phase is Phase.ABORTED
    finally:
        await store.close()
        await other.close()


def test_the_driver_lock_is_the_one_the_fast_path_reads() -> None:
    """One DriverLock: `serinus run` takes the class the CLI's fast path asks for the holder."""
    from serinus.app import driver, driver_lock

    assert driver.DriverLock is driver_lock.DriverLock


async def test_the_doorbell_rings_once_a_commit_is_visible_never_while_it_is_written(
    tmp_path: Path,
) -> None:
    """The gap: another process's abort is in the WAL file but not committed yet. A bell that
    rang then would let the driver reconcile, find nothing and sleep; this one rings only once
    the abort can be read, without any file being touched after the commit."""
    database = tmp_path / "serinus.db"
    store = SqliteStateStore(database)
    writer = sqlite_file.connect(database)  # the other process: it only commits
    bell = StoreBell.of(store)
    try:
        await operations.submit(store, make_rollout({"blueGreenCanary": {"steps": []}}))
        bell.rearm()
        wal = database.with_name(database.name + "-wal")
        written = wal.stat().st_size
        writer.execute("PRAGMA cache_size = 1")  # the transaction's pages spill into the WAL
        writer.execute("BEGIN IMMEDIATE")
        abort = Intent(kind=IntentKind.ABORT, actor="ana", source="cli", at=1.0)
        body = abort.model_dump_json(exclude={"id", "outcome"})
        sqlite_file.insert_intent(writer, "web", body, None)
        writer.execute("CREATE TABLE filler (x BLOB)")
        writer.executemany("INSERT INTO filler VALUES (?)", [(bytes(400),)] * 500)
        assert wal.stat().st_size > written, "the WAL grew: the commit is being written"
        assert await store.pending_intents("web") == []
        assert not bell.rang()
        writer.execute("COMMIT")
        assert bell.rang()
        assert [intent.kind for intent in await store.pending_intents("web")] == [IntentKind.ABORT]
        bell.rearm()
        assert not bell.rang()
    finally:
        bell.close()
        writer.close()
        await store.close()
