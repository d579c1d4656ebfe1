"""Operations from the CLI say what really happened: "recorded" and who acts on it, or, with
--wait, the driver's outcome; the hints they print are commands that work."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app.driver import DriverLock
from serinus.core.status import Phase, Revision, RolloutStatus
from serinus.entrypoints.cli import local, rollouts

if TYPE_CHECKING:
    from conftest import State

JUDGING = RolloutStatus(
    phase=Phase.AWAITING_JUDGEMENT,
    stable=Revision(version="v1", color="blue"),
    canary=Revision(version="v2", color="green"),
    step_index=1,
    weights={"blue": 90, "green": 10},
    previous_version="v0",
)


def test_without_a_driver_judge_is_recorded_and_names_the_command_that_acts(
    state: State,
) -> None:
    state.put(JUDGING)

    done = state.cli("judge", "web", "--approve")

    assert done.exit_code == 0, done.stderr
    assert done.stdout.strip() == (
        "judge of web recorded (#1); no driver is running: `serinus run web` acts on it"
    )
    assert "done" not in done.stdout


def test_with_a_driver_judge_is_recorded_and_the_driver_acts_on_it(state: State) -> None:
    state.put(JUDGING)

    with DriverLock(state.folder / "rollouts" / "web", "web"):
        done = state.cli("judge", "web", "--reject", "-m", "p95 doubled")

    assert done.exit_code == 0, done.stderr
    assert "judge of web recorded (#1); the driver acts on it" in done.stdout


def test_wait_reports_the_driver_s_outcome(state: State) -> None:
    state.put(JUDGING)
    stop = threading.Event()
    driver = threading.Thread(target=_consume_as_a_driver, args=(state, stop), daemon=True)
    driver.start()
    try:
        with DriverLock(state.folder / "rollouts" / "web", "web"):
            done = state.cli("judge", "web", "--approve", "--wait", "30")
    finally:
        stop.set()
        driver.join(timeout=10)

    assert done.exit_code == 0, done.stderr
    assert "judge of web: done" in done.stdout


def test_wait_without_an_outcome_says_so_and_exits_not_done(state: State) -> None:
    state.put(JUDGING)

    with DriverLock(state.folder / "rollouts" / "web", "web"):
        done = state.cli("abort", "web", "--wait", "0.3")

    assert done.exit_code == 6
    assert "abort of web recorded (#1); no outcome within 0.3s; the driver acts on it" in (
        done.stdout
    )


def test_an_operation_that_does_not_apply_is_refused_at_once(state: State) -> None:
    state.put(JUDGING)

    done = state.cli("retry", "web")

    assert done.exit_code == 1
    assert "retry applies to an aborted or failed rollout" in done.stderr


def test_serinus_run_name_drives_the_recorded_spec_as_the_hint_says(state: State) -> None:
    """After an undo the hint is `serinus run web`: it must find the recorded rollout and
    must not submit a file over what the undo asked for."""
    state.put(JUDGING)
    local.configure(state.folder)

    recorded = rollouts._recorded(Path("web"))

    assert recorded is not None and recorded.name == "web" and recorded.spec.version == "v2"
    assert rollouts._recorded(Path("web.yaml")) is None  # a file name is read as a file
    assert rollouts._recorded(Path("nope")) is None  # unknown: read as a file, whose error names it


def _consume_as_a_driver(state: State, stop: threading.Event) -> None:
    """What the driver does with an operation: act on it and record the outcome."""

    async def loop() -> None:
        store = SqliteStateStore(state.database)
        try:
            while not stop.is_set():
                pending = await store.pending_intents("web")
                if pending:
                    status = await store.load("web")
                    assert status is not None
                    done = [i.model_copy(update={"outcome": "done"}) for i in pending]
                    await store.save("web", status, [], done)
                    return
                await asyncio.sleep(0.05)
        finally:
            await store.close()

    asyncio.run(loop())


def test_a_decision_on_what_get_showed_is_refused_once_the_rollout_moved_on(
    state: State,
) -> None:
    state.put(JUDGING.model_copy(update={"revision": 3}))

    stale = state.cli("judge", "web", "--approve", "--revision", "2", "--step", "2")
    current = state.cli("judge", "web", "--approve", "--revision", "3", "--step", "2")

    assert stale.exit_code == 1
    assert "the judgement you saw (revision 2, step 2) is no longer pending" in stale.stderr
    assert current.exit_code == 0, current.stderr
    assert "judge of web recorded" in current.stdout


def test_serinus_run_of_an_unknown_name_says_it_is_neither_file_nor_rollout(state: State) -> None:
    state.put(JUDGING)

    done = state.cli("run", "nope")

    assert done.exit_code == 1
    assert (
        "FILE: cannot read nope: No such file or directory; no recorded rollout has that name"
        in (" ".join(done.stderr.split()))
    )
