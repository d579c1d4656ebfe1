"""The local mode's SQLite file: opening it (modes, journal, schema) and the statements that
write an operation, with the standard library only.

Two writers share this module: `SqliteStateStore` and the CLI's fast path for operations
(`serinus abort` records its intent without loading typer or the pydantic models). Both open the
file with `connect` and record with `insert_intent`, so a file, a schema and an intent row are
the same whichever wrote them. The driver's doorbell (`app.driver.StoreBell`) rings on SQLite's
`PRAGMA data_version`, so any visible commit wakes it; writers do nothing extra.

Durability: `journal_mode=WAL` with `synchronous=FULL`, so a commit is fsynced to the WAL before
it returns. NORMAL would already survive `kill -9` (the OS keeps the written pages), but not a
power cut; the store writes once per reconcile, so the extra fsync is cheap.

Permissions: the folder holding the database is the state folder; it is made 0700 and the
database, its WAL and shared-memory files 0600 (specs and statuses may hold credentials). The
file is created 0600 before SQLite opens it, and SQLite gives the WAL and SHM files the
database's mode.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from serinus.adapters.private import narrow_private, private_folder, touch_private
from serinus.core.errors import NotFound, StoreError

DEFAULT_BUSY_TIMEOUT = 5.0

# Each entry upgrades the schema by one version (entry i: version i -> i + 1), applied in one
# transaction with the version bump. Append new entries; never edit a released one.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE rollouts (
            name   TEXT PRIMARY KEY,
            spec   TEXT NOT NULL,
            status TEXT
        )""",
        # AUTOINCREMENT: ids are never reused, even after a delete, so the audit stays unambiguous.
        """CREATE TABLE events (
            id      INTEGER PRIMARY KEY AUTOINCREMENT,
            rollout TEXT NOT NULL REFERENCES rollouts(name) ON DELETE CASCADE,
            body    TEXT NOT NULL
        )""",
        "CREATE INDEX events_by_rollout ON events (rollout, id)",
        """CREATE TABLE intents (
            id       INTEGER PRIMARY KEY AUTOINCREMENT,
            rollout  TEXT NOT NULL REFERENCES rollouts(name) ON DELETE CASCADE,
            body     TEXT NOT NULL,
            consumed INTEGER NOT NULL DEFAULT 0 CHECK (consumed IN (0, 1)),
            outcome  TEXT
        )""",
        "CREATE INDEX intents_by_rollout ON intents (rollout, consumed, id)",
    ),
]

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6


def sidecars(path: Path) -> tuple[Path, Path]:
    """The WAL and shared-memory files SQLite keeps next to the database."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def dumps(data: Any) -> str:
    """A record as stored: compact JSON, non-ASCII kept as it is."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def error(path: Path, busy_timeout: float, exc: sqlite3.Error, doing: str) -> StoreError:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StoreError(
            f"state store {path}: {doing}: the database stayed locked by another "
            f"process for more than {busy_timeout:g}s ({exc})"
        )
    return StoreError(f"state store {path}: {doing}: {exc}")


def connect(path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> sqlite3.Connection:
    """The database at `path`, created private if missing, in WAL mode, at the current schema.

    Raises StoreError naming the file for anything that goes wrong.
    """
    try:
        private_folder(path.parent)
    except OSError as exc:
        raise StoreError(f"state store {path}: cannot create its directory: {exc}") from exc
    try:
        # Never open and close a file SQLite may hold locks on: closing any descriptor of a
        # file drops every POSIX lock this process holds on it (another connection's).
        if not path.exists():
            touch_private(path)
        for file in (path, *sidecars(path)):
            if file.exists():
                narrow_private(file)
    except OSError as exc:
        raise StoreError(f"state store {path}: cannot create the file: {exc}") from exc
    try:
        # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE.
        conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise error(path, busy_timeout, exc, "opening") from exc
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(
                f"state store {path}: cannot use the WAL journal (SQLite chose {mode!r}); "
                "put the state directory on a local filesystem"
            )
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        _migrate(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise error(path, busy_timeout, exc, "opening") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT version FROM schema_version WHERE id = 1").fetchone()
    return int(row[0]) if row is not None else 0


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    target = len(MIGRATIONS)
    if schema_version(conn) == target:
        return
    with transaction(conn):
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = schema_version(conn)
        if current > target:
            raise StoreError(
                f"state store {path}: schema version {current} is newer than this "
                f"serinus understands ({target}); upgrade serinus"
            )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
        )
        for statements in MIGRATIONS[current:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_version (id, version) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            (target,),
        )


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, waiting for it under the busy timeout; a
    # deferred transaction that upgrades to a write would fail at once with SQLITE_BUSY.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def insert_intent(conn: sqlite3.Connection, name: str, body: str, outcome: str | None) -> int:
    """Record an intent's JSON `body` for rollout `name` inside the caller's transaction; its id.

    Raises NotFound when no rollout has that name.
    """
    known = conn.execute("SELECT 1 FROM rollouts WHERE name = ?", (name,)).fetchone()
    if known is None:
        raise NotFound(f"rollout {name!r} not found")
    cursor = conn.execute(
        "INSERT INTO intents (rollout, body, outcome) VALUES (?, ?, ?)", (name, body, outcome)
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid
