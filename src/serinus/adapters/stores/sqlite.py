"""The local mode's StateStore: one SQLite file per state directory.

Several processes share the file: `serinus run` drives a rollout while a second terminal records
`promote` or `judge`. Every write is one `BEGIN IMMEDIATE` transaction, so writers queue on the
database lock (up to the busy timeout) instead of failing half-way or losing an intent, and
readers never block thanks to the WAL journal.

Durability: `journal_mode=WAL` with `synchronous=FULL`, so a commit is fsynced to the WAL before
`save` returns. NORMAL would already survive `kill -9` (the OS keeps the written pages), but not
a power cut; the store writes once per reconcile, so the extra fsync is cheap.

Permissions: the folder holding the database is the state folder; it is made 0700 and the
database, its WAL and shared-memory files 0600 (specs and statuses may hold credentials). The
file is created 0600 before SQLite opens it, and SQLite gives the WAL and SHM files the
database's mode.

Threads: the async methods hand each call to one dedicated worker thread that owns the
connection. Statements are fast, but a write can wait up to the busy timeout for another
process's lock and every commit waits for an fsync; doing that on the event loop would freeze
live views and the API. One thread (not `asyncio.to_thread`'s pool) also serialises the calls,
so transactions on the single connection never interleave.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from serinus.adapters.private import narrow_private, private_folder, touch_private
from serinus.adapters.stores.arguments import check_consumed, check_limit
from serinus.core.errors import Conflict, NotFound, SerinusError, StoreError
from serinus.core.events import Event
from serinus.core.intents import Intent
from serinus.core.spec import Rollout
from serinus.core.status import RolloutStatus

T = TypeVar("T")

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


def _sidecars(path: Path) -> tuple[Path, Path]:
    """The WAL and shared-memory files SQLite keeps next to the database."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class SqliteStateStore:
    """StateStore on a SQLite file; open one per process (or several: they share the file)."""

    def __init__(self, path: Path | str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serinus-sqlite")
        try:
            self._conn = self._executor.submit(self._open).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    # --- opening, schema ---------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            private_folder(self.path.parent)
        except OSError as exc:
            raise StoreError(
                f"state store {self.path}: cannot create its directory: {exc}"
            ) from exc
        try:
            # Never open and close a file SQLite may hold locks on: closing any descriptor of a
            # file drops every POSIX lock this process holds on it (another connection's).
            if not self.path.exists():
                touch_private(self.path)
            for path in (self.path, *_sidecars(self.path)):
                if path.exists():
                    narrow_private(path)
        except OSError as exc:
            raise StoreError(f"state store {self.path}: cannot create the file: {exc}") from exc
        try:
            # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE.
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._error(exc, "opening") from exc
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"state store {self.path}: cannot use the WAL journal (SQLite chose {mode!r}); "
                    "put the state directory on a local filesystem"
                )
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise self._error(exc, "opening") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if exists is None:
            return 0
        row = conn.execute("SELECT version FROM schema_version WHERE id = 1").fetchone()
        return int(row[0]) if row is not None else 0

    def _migrate(self, conn: sqlite3.Connection) -> None:
        target = len(MIGRATIONS)
        if self._schema_version(conn) == target:
            return
        with self._transaction(conn):
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = self._schema_version(conn)
            if current > target:
                raise StoreError(
                    f"state store {self.path}: schema version {current} is newer than this "
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

    # --- plumbing ----------------------------------------------------------------------------

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
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

    def _error(self, exc: sqlite3.Error, doing: str) -> StoreError:
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return StoreError(
                f"state store {self.path}: {doing}: the database stayed locked by another "
                f"process for more than {self.busy_timeout:g}s ({exc})"
            )
        return StoreError(f"state store {self.path}: {doing}: {exc}")

    async def _run(self, doing: str, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError(f"state store {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, doing, work)

    def _call(self, doing: str, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return work(self._conn)
        except SerinusError:
            raise
        except sqlite3.Error as exc:
            raise self._error(exc, doing) from exc
        except (ValidationError, json.JSONDecodeError) as exc:
            raise StoreError(
                f"state store {self.path}: {doing}: a stored record is unreadable: {exc}"
            ) from exc

    # --- StateStore --------------------------------------------------------------------------

    async def submit(self, rollout: Rollout) -> None:
        spec = _dumps(rollout.model_dump(mode="json", by_alias=True, exclude_none=True))

        def work(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                conn.execute(
                    "INSERT INTO rollouts (name, spec) VALUES (?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET spec = excluded.spec",
                    (rollout.name, spec),
                )

        await self._run(f"submitting rollout {rollout.name!r}", work)

    async def get_spec(self, name: str) -> Rollout | None:
        def work(conn: sqlite3.Connection) -> Rollout | None:
            row = conn.execute("SELECT spec FROM rollouts WHERE name = ?", (name,)).fetchone()
            return None if row is None else Rollout.model_validate(json.loads(row[0]))

        return await self._run(f"reading the spec of rollout {name!r}", work)

    async def load(self, name: str) -> RolloutStatus | None:
        def work(conn: sqlite3.Connection) -> RolloutStatus | None:
            row = conn.execute("SELECT status FROM rollouts WHERE name = ?", (name,)).fetchone()
            if row is None or row[0] is None:
                return None
            return RolloutStatus.from_storage(json.loads(row[0]))

        return await self._run(f"loading the status of rollout {name!r}", work)

    async def save(
        self,
        name: str,
        status: RolloutStatus,
        events: Sequence[Event],
        consumed: Sequence[Intent],
    ) -> None:
        check_consumed(consumed)
        status_json = _dumps(status.to_storage())
        event_rows = [(name, _dumps(event.model_dump(mode="json"))) for event in events]

        def work(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                updated = conn.execute(
                    "UPDATE rollouts SET status = ? WHERE name = ?", (status_json, name)
                ).rowcount
                if updated == 0:
                    raise NotFound(f"rollout {name!r} not found: submit it before saving status")
                conn.executemany("INSERT INTO events (rollout, body) VALUES (?, ?)", event_rows)
                for intent in consumed:
                    self._consume(conn, name, intent)

        await self._run(f"saving the status of rollout {name!r}", work)

    @staticmethod
    def _consume(conn: sqlite3.Connection, name: str, intent: Intent) -> None:
        row = conn.execute(
            "SELECT consumed FROM intents WHERE id = ? AND rollout = ?", (intent.id, name)
        ).fetchone()
        if row is None:
            raise NotFound(f"intent {intent.id} of rollout {name!r} not found")
        if row[0]:
            raise Conflict(f"intent {intent.id} of rollout {name!r} was already consumed")
        conn.execute(
            "UPDATE intents SET consumed = 1, outcome = ? WHERE id = ?",
            (intent.outcome, intent.id),
        )

    async def names(self) -> list[str]:
        def work(conn: sqlite3.Connection) -> list[str]:
            return [row[0] for row in conn.execute("SELECT name FROM rollouts ORDER BY name")]

        return await self._run("listing rollouts", work)

    async def record_intent(self, name: str, intent: Intent) -> Intent:
        body = _dumps(intent.model_dump(mode="json", exclude={"id", "outcome"}))

        def work(conn: sqlite3.Connection) -> Intent:
            with self._transaction(conn):
                known = conn.execute("SELECT 1 FROM rollouts WHERE name = ?", (name,)).fetchone()
                if known is None:
                    raise NotFound(f"rollout {name!r} not found")
                cursor = conn.execute(
                    "INSERT INTO intents (rollout, body, outcome) VALUES (?, ?, ?)",
                    (name, body, intent.outcome),
                )
            assert cursor.lastrowid is not None
            return intent.model_copy(update={"id": cursor.lastrowid})

        return await self._run(f"recording a {intent.kind} intent for rollout {name!r}", work)

    async def pending_intents(self, name: str) -> list[Intent]:
        def work(conn: sqlite3.Connection) -> list[Intent]:
            rows = conn.execute(
                "SELECT id, body, outcome FROM intents"
                " WHERE rollout = ? AND consumed = 0 ORDER BY id",
                (name,),
            )
            return [_intent(*row) for row in rows]

        return await self._run(f"reading pending intents of rollout {name!r}", work)

    async def intents(self, name: str, limit: int = 100) -> list[Intent]:
        check_limit(limit, "intents request")

        def work(conn: sqlite3.Connection) -> list[Intent]:
            rows = conn.execute(
                "SELECT id, body, outcome FROM intents WHERE rollout = ? ORDER BY id DESC LIMIT ?",
                (name, limit),
            ).fetchall()
            return [_intent(*row) for row in reversed(rows)]

        return await self._run(f"reading the intents of rollout {name!r}", work)

    async def history(self, name: str, limit: int = 200) -> list[Event]:
        check_limit(limit, "history request")

        def work(conn: sqlite3.Connection) -> list[Event]:
            rows = conn.execute(
                "SELECT body FROM events WHERE rollout = ? ORDER BY id DESC LIMIT ?",
                (name, limit),
            ).fetchall()
            return [Event.model_validate(json.loads(row[0])) for row in reversed(rows)]

        return await self._run(f"reading the history of rollout {name!r}", work)

    async def delete(self, name: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                # Events and intents go with it: ON DELETE CASCADE (foreign_keys is on).
                deleted = conn.execute("DELETE FROM rollouts WHERE name = ?", (name,)).rowcount
                if deleted == 0:
                    raise NotFound(f"rollout {name!r} not found")

        await self._run(f"deleting rollout {name!r}", work)

    # --- lifecycle and diagnostics -----------------------------------------------------------

    async def describe(self) -> dict[str, Any]:
        """The file and the settings in force on this connection (for `doctor`-style output)."""

        def work(conn: sqlite3.Connection) -> dict[str, Any]:
            return {
                "path": str(self.path),
                "schemaVersion": self._schema_version(conn),
                "journalMode": conn.execute("PRAGMA journal_mode").fetchone()[0],
                "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                    conn.execute("PRAGMA synchronous").fetchone()[0]
                ],
                "foreignKeys": bool(conn.execute("PRAGMA foreign_keys").fetchone()[0]),
                "busyTimeout": conn.execute("PRAGMA busy_timeout").fetchone()[0] / 1000,
            }

        return await self._run("describing the store", work)

    async def close(self) -> None:
        """Close the connection; later calls raise StoreError. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._conn.close)
        finally:
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> SqliteStateStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _intent(intent_id: int, body: str, outcome: str | None) -> Intent:
    return Intent.model_validate({**json.loads(body), "id": intent_id, "outcome": outcome})
