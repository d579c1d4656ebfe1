"""The local mode's StateStore: one SQLite file per state directory.

Several processes share the file: `serinus run` drives a rollout while a second terminal records
`promote` or `judge`. Every write is one `BEGIN IMMEDIATE` transaction, so writers queue on the
database lock (up to the busy timeout) instead of failing half-way or losing an intent, and
readers never block thanks to the WAL journal.

Opening the file (private modes, the WAL journal with `synchronous=FULL`, the schema) and
recording an intent are in `sqlite_file`, shared with the CLI's fast path for operations.

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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from serinus.adapters.stores import sqlite_file
from serinus.adapters.stores.arguments import check_consumed, check_limit
from serinus.adapters.stores.sqlite_file import (
    DEFAULT_BUSY_TIMEOUT,
    dumps,
    insert_intent,
    transaction,
)
from serinus.core.errors import Conflict, NotFound, SerinusError, StoreError
from serinus.core.events import Event
from serinus.core.intents import Intent
from serinus.core.spec import Rollout
from serinus.core.status import RolloutStatus

T = TypeVar("T")


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

    # --- plumbing ----------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        return sqlite_file.connect(self.path, self.busy_timeout)

    def _error(self, exc: sqlite3.Error, doing: str) -> StoreError:
        return sqlite_file.error(self.path, self.busy_timeout, exc, doing)

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
        spec = dumps(rollout.model_dump(mode="json", by_alias=True, exclude_none=True))

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn):
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
        status_json = dumps(status.to_storage())
        event_rows = [(name, dumps(event.model_dump(mode="json"))) for event in events]

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn):
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
        body = dumps(intent.model_dump(mode="json", exclude={"id", "outcome"}))

        def work(conn: sqlite3.Connection) -> Intent:
            with transaction(conn):
                intent_id = insert_intent(conn, name, body, intent.outcome)
            return intent.model_copy(update={"id": intent_id})

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
            with transaction(conn):
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
                "schemaVersion": sqlite_file.schema_version(conn),
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
