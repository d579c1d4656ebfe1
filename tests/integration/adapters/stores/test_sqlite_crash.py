"""The SQLite store survives `kill -9`: no committed write lost, no transaction half applied.

A child process saves as fast as it can, each save one transaction holding the status (with its
revision), two events and one consumed intent, and prints the revision after each commit. The
test kills it with SIGKILL at a random moment, several times over the same file, and checks the
file after each kill.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
from tests.contract.stores.contract import make_rollout

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.core.intents import IntentKind

pytestmark = pytest.mark.integration

NAME = "shop"
KILLS = 5

# Runs in the child: save revision after revision, printing each once its transaction committed.
WRITER = """
import asyncio, sys
from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.core.events import Event, EventType
from serinus.core.intents import Intent, IntentKind
from serinus.core.status import Phase, RolloutStatus

async def main() -> None:
    store = SqliteStateStore(sys.argv[1])
    status = await store.load(sys.argv[2])
    revision = status.revision if status is not None else 0
    phases = list(Phase)
    while True:
        revision += 1
        intent = await store.record_intent(
            sys.argv[2], Intent(kind=IntentKind.PROMOTE, comment=str(revision))
        )
        status = RolloutStatus(
            phase=phases[revision % len(phases)],
            message="x" * (revision % 500),  # varying sizes: pages split, the WAL checkpoints
            weights={"blue": 100 - revision % 101, "green": revision % 101},
            revision=revision,
        )
        events = [
            Event(type=EventType.STEP_STARTED, message="step", at=revision, data={"r": revision}),
            Event(type=EventType.WEIGHTS_CHANGED, message="w", at=revision, data={"r": revision}),
        ]
        done = intent.model_copy(update={"outcome": f"r{revision}"})
        await store.save(sys.argv[2], status, events, [done])
        print(revision, flush=True)

asyncio.run(main())
"""


def _collect_lines(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def _run_and_kill(db: Path, rng: random.Random) -> tuple[int, int]:
    """Start the writer, SIGKILL it at a random moment; the last revision it printed, and how
    many it printed in this run."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), NAME],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert child.stdout is not None and child.stderr is not None
    reader = threading.Thread(target=_collect_lines, args=(child.stdout, lines), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not lines:  # wait until the writer is in its loop
            if child.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the writer did not start: {child.stderr.read()}")
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        reader.join(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    complete = [line for line in lines if line.endswith("\n")]
    return int(complete[-1]), len(complete)


def _check_file(db: Path, last_printed: int, left_pending: list[str]) -> int:
    """The file is sound and holds every committed revision whole; returns the revision.

    `left_pending` lists the intents earlier killed runs recorded but never consumed; it gains
    this run's one, if any."""
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []

    async def read() -> int:
        async with SqliteStateStore(db) as store:
            status = await store.load(NAME)
            assert status is not None
            revision = status.revision
            # The kill may land after a commit and before its print, never before the commit.
            assert revision in (last_printed, last_printed + 1)
            # Status, events and consumed intents of one save are all there or none is.
            history = await store.history(NAME, limit=10**9)
            assert [event.data["r"] for event in history] == [
                r for r in range(1, revision + 1) for _ in range(2)
            ]
            audit = await store.intents(NAME, limit=10**9)
            consumed = [intent for intent in audit if intent.outcome is not None]
            assert [intent.outcome for intent in consumed] == [
                f"r{r}" for r in range(1, revision + 1)
            ]
            assert all(intent.kind is IntentKind.PROMOTE for intent in audit)
            # Only the intent recorded by a killed iteration (before its save) is left pending.
            pending = [intent.comment for intent in await store.pending_intents(NAME)]
            assert pending in (left_pending, [*left_pending, str(revision + 1)])
            left_pending[:] = pending
            assert len(audit) == len(consumed) + len(pending)
            return revision

    return asyncio.run(read())


def test_kill_9_loses_no_committed_save_and_leaves_no_partial_one(tmp_path: Path) -> None:
    db = tmp_path / "state" / "serinus.db"

    async def submit() -> None:
        async with SqliteStateStore(db) as store:
            await store.submit(make_rollout(NAME))

    asyncio.run(submit())
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    revision = 0
    left_pending: list[str] = []
    for kill in range(KILLS):
        last_printed, printed = _run_and_kill(db, rng)
        assert printed > 0
        # Each run continues from the revision the previous one left on disk.
        assert last_printed == revision + printed, f"seed {seed}, kill {kill}"
        revision = _check_file(db, last_printed, left_pending)
    print(f"seed {seed}: {revision} saves committed across {KILLS} kills")
