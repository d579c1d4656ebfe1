"""Two processes on one SQLite file: `serinus run` saving while a second terminal records
operations. Every intent the other process recorded is seen and consumed exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from tests.contract.stores.contract import make_event, make_rollout, make_status

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.core.intents import Intent

pytestmark = pytest.mark.integration

NAME = "shop"
RECORDED = 200

# Runs in the child (the "second terminal"): record intents as fast as it can, print their ids.
RECORDER = """
import asyncio, sys
from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.core.intents import Intent, IntentKind

async def main() -> None:
    async with SqliteStateStore(sys.argv[1]) as store:
        for i in range(int(sys.argv[3])):
            intent = await store.record_intent(
                sys.argv[2], Intent(kind=IntentKind.JUDGE, approve=True, comment=str(i))
            )
            print(intent.id, flush=True)

asyncio.run(main())
"""


async def test_intents_from_another_process_are_all_consumed_once(tmp_path: Path) -> None:
    db = tmp_path / "serinus.db"
    async with SqliteStateStore(db) as store:
        await store.submit(make_rollout(NAME))
        recorder = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RECORDER,
            str(db),
            NAME,
            str(RECORDED),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            consumed: list[Intent] = []
            revision = 0
            # Drive like the engine: read pending intents, act, save them consumed, repeat.
            while recorder.returncode is None or await store.pending_intents(NAME):
                revision += 1
                pending = await store.pending_intents(NAME)
                done = [i.model_copy(update={"outcome": f"r{revision}"}) for i in pending]
                await store.save(NAME, make_status(revision), [make_event(revision)], done)
                consumed.extend(done)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(recorder.wait(), timeout=0.001)
            out, err = await recorder.communicate()
        finally:
            if recorder.returncode is None:
                recorder.kill()
                await recorder.wait()
        assert recorder.returncode == 0, err.decode()

        printed = [int(line) for line in out.decode().split()]
        assert len(printed) == RECORDED
        assert sorted(i.id for i in consumed) == sorted(printed)  # each exactly once
        assert sorted(i.comment for i in consumed) == sorted(str(i) for i in range(RECORDED))
        audit = await store.intents(NAME, limit=RECORDED)
        assert all(intent.outcome is not None for intent in audit)
        assert (await store.load(NAME)) == make_status(revision)
        assert len(await store.history(NAME, limit=10**6)) == revision
