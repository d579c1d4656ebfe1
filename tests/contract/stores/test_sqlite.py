"""The SQLite store passes the StateStore contract, plus what only a file-backed store has:
its settings, schema versioning, creating its directory, and errors naming the file."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.contract.stores.contract import (
    ClosableStore,
    StateStoreContract,
    StoreHandles,
    make_event,
    make_intent,
    make_rollout,
    make_status,
)

from serinus.adapters.stores import sqlite_file as sqlite_store
from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.core.errors import StoreError


class SqliteHandles:
    """Each handle is its own connection to the one file, as separate processes would be."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def open(self) -> ClosableStore:
        return SqliteStateStore(self.path)


class TestSqliteStore(StateStoreContract):
    @pytest.fixture
    def store_handles(self, tmp_path: Path) -> StoreHandles:
        return SqliteHandles(tmp_path / "state" / "serinus.db")


async def test_settings_in_force(tmp_path: Path) -> None:
    async with SqliteStateStore(tmp_path / "s.db", busy_timeout=2.5) as store:
        assert await store.describe() == {
            "path": str(tmp_path / "s.db"),
            "schemaVersion": len(sqlite_store.MIGRATIONS),
            "journalMode": "wal",
            "synchronous": "FULL",
            "foreignKeys": True,
            "busyTimeout": 2.5,
        }


async def test_creates_missing_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "serinus.db"
    async with SqliteStateStore(path) as store:
        await store.submit(make_rollout())
    assert path.is_file()


def test_the_schema_version_is_recorded(tmp_path: Path) -> None:
    SqliteStateStore(tmp_path / "s.db")
    with sqlite3.connect(tmp_path / "s.db") as conn:
        rows = conn.execute("SELECT version FROM schema_version").fetchall()
    assert rows == [(len(sqlite_store.MIGRATIONS),)]


async def test_a_new_migration_upgrades_an_existing_file_and_keeps_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    async with SqliteStateStore(path) as store:
        await store.submit(make_rollout())
    upgraded = [*sqlite_store.MIGRATIONS, ("ALTER TABLE rollouts ADD COLUMN owner TEXT",)]
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", upgraded)
    async with SqliteStateStore(path) as store:
        assert (await store.describe())["schemaVersion"] == len(upgraded)
        assert await store.get_spec("shop") == make_rollout()
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(rollouts)")]
    assert "owner" in columns


def test_a_file_from_a_newer_serinus_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStateStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(StoreError, match=r"schema version 999 is newer") as refused:
        SqliteStateStore(path)
    assert str(path) in str(refused.value)


def test_a_file_that_is_not_a_database_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not sqlite, just some text long enough to be read as a header" * 20)
    with pytest.raises(StoreError) as refused:
        SqliteStateStore(path)
    assert str(path) in str(refused.value)


def test_a_directory_in_place_of_the_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "s.db").mkdir()
    with pytest.raises(StoreError, match=str(tmp_path / "s.db")):
        SqliteStateStore(tmp_path / "s.db")


def test_an_uncreatable_directory_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create its directory"):
        SqliteStateStore(tmp_path / "file" / "sub" / "s.db")


async def test_a_write_lock_held_too_long_is_a_store_error_and_loses_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    async with SqliteStateStore(path, busy_timeout=0.2) as store:
        await store.submit(make_rollout())
        await store.save("shop", make_status(1), [], [])
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreError, match="locked") as refused:
                await store.record_intent("shop", make_intent())
            assert str(path) in str(refused.value)
            with pytest.raises(StoreError, match="locked"):
                await store.save("shop", make_status(2), [], [])
            assert await store.load("shop") == make_status(1)  # WAL: readers are not blocked
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        # the lock is gone: the store works again and the refused writes left no trace
        assert await store.pending_intents("shop") == []
        await store.save("shop", make_status(3), [], [])
        assert await store.load("shop") == make_status(3)


async def test_an_unreadable_record_is_a_store_error_naming_the_rollout(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SqliteStateStore(path) as store:
        await store.submit(make_rollout())
        await store.save("shop", make_status(), [], [])
        with sqlite3.connect(path) as conn:
            conn.execute('UPDATE rollouts SET status = \'{"phase": "Exploded"}\'')
        with pytest.raises(StoreError, match="shop") as refused:
            await store.load("shop")
        assert str(path) in str(refused.value)


async def test_a_corrupt_file_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SqliteStateStore(path) as store:
        await store.submit(make_rollout())
        await store.save("shop", make_status(), [make_event(i) for i in range(300)], [])
    # The last connection closed, so everything is checkpointed into the main file; wreck the
    # pages after the header and the schema.
    page = 4096
    with path.open("r+b") as file:
        file.seek(2 * page)
        file.write(b"\xff" * (path.stat().st_size - 2 * page))
    with pytest.raises(StoreError) as refused:
        store = SqliteStateStore(path)
        try:
            await store.history("shop")
            await store.load("shop")
        finally:
            await store.close()
    assert str(path) in str(refused.value)
    assert "malformed" in str(refused.value)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The widest umask: whatever the store creates has exactly the mode it asks for."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
async def test_the_state_folder_is_0700_and_the_database_files_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "serinus.db"
    async with SqliteStateStore(path) as store:
        await store.submit(make_rollout())
        wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
        assert wal.exists() and shm.exists(), "the WAL files exist while the store is open"
        assert {p.name: mode(p) for p in (path, wal, shm)} == {
            "serinus.db": 0o600,
            "serinus.db-wal": 0o600,
            "serinus.db-shm": 0o600,
        }
    assert mode(path.parent) == 0o700


@pytest.mark.usefixtures("open_umask")
async def test_files_left_world_readable_by_an_older_version_are_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "state" / "serinus.db"
    async with SqliteStateStore(path) as store:
        await store.submit(make_rollout())
    for widened in (path.parent, path):
        widened.chmod(0o755)
    async with SqliteStateStore(path) as store:
        assert await store.get_spec(make_rollout().name) is not None
        assert (mode(path.parent), mode(path), mode(Path(f"{path}-wal"))) == (0o700, 0o600, 0o600)


async def test_a_recorded_intent_rings_the_driver_s_doorbell_once_visible(tmp_path: Path) -> None:
    """The bell (SQLite's data_version) rings once the other connection's commit is visible."""
    from serinus.app.driver import StoreBell

    path = tmp_path / "s.db"
    async with SqliteStateStore(path) as driver, SqliteStateStore(path) as cli:
        await driver.submit(make_rollout())
        bell = StoreBell(path)
        await cli.record_intent("shop", make_intent())

        assert bell.rang()
        assert len(await driver.pending_intents("shop")) == 1
