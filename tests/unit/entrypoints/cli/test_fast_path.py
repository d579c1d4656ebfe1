"""The fast path of the operations (cli/fast_path.py) against the typer path it stands in for:
for every verb and flag it takes, both write byte-identical rows and print the same line; what it
is not sure of it leaves to typer with nothing written; it applies exactly where the core's
`refusal` does; and the engine, woken by the doorbell, consumes what it records."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from model_world import Clock
from strategy_world import make_rollout

from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app import operations
from serinus.app.driver import DriverLock, StoreBell, drive
from serinus.app.engine import Engine, Reconciled
from serinus.core.intents import IntentKind, refusal
from serinus.core.status import Phase, Revision, RolloutStatus, ScheduledTeardown
from serinus.entrypoints.cli import fast_path

if TYPE_CHECKING:
    from conftest import State

BLUE, GREEN = Revision(version="v1", color="blue"), Revision(version="v2", color="green")


def status(phase: Phase, **fields: Any) -> RolloutStatus:
    return RolloutStatus(
        **{
            "phase": phase,
            "stable": BLUE,
            "canary": GREEN,
            "step_index": 1,
            "revision": 3,
            **fields,
        }
    )


JUDGING = status(Phase.AWAITING_JUDGEMENT)
PAUSED = status(Phase.PAUSED, step_index=2)
GATED = """
        - setWeight: 10
        - judgement:
            inputs:
              - {name: ticket, required: true}
              - {name: verdict, options: [fine, meh]}
              - {name: note}
        - pause: {}"""
ANALYSED = """
        - setWeight: 10
        - analysis: {templates: [errors]}
        - pause: {}
  analysisTemplates:
    - name: errors
      metrics:
        - name: m
          successCondition: result[0] < 1
          provider: {prometheus: {address: "http://127.0.0.1:9", query: up}}"""

# (command line, status, steps): each one the fast path records.
RECORDED: list[tuple[list[str], RolloutStatus, str | None]] = [
    *[(["abort", "web"], status(phase), None) for phase in sorted(Phase) if phase in (
        Phase.PROVISIONING, Phase.PROGRESSING, Phase.PAUSED, Phase.AWAITING_JUDGEMENT,
        Phase.PROMOTING,
    )],
    (["abort", "web"], status(Phase.SCALING_DOWN, teardowns=[
        ScheduledTeardown(color="blue", version="v1", due=5.0)]), None),
    (["abort", "-m", "p95 doubled", "web"], JUDGING, None),
    (["abort", "web", "--comment=ça ✔ \"quoted\""], JUDGING, None),
    (["abort", "web", "--comment", ""], JUDGING, None),
    (["abort", "web", "-m", "first", "-m", "last wins"], JUDGING, None),
    (["retry", "web"], status(Phase.ABORTED), None),
    (["retry", "web", "-m", "again"], status(Phase.FAILED), None),
    (["pause", "web"], status(Phase.PROGRESSING), None),
    (["resume", "web"], status(Phase.PAUSED, paused_by_user=True), None),
    (["promote", "web"], PAUSED, None),
    (["promote", "web", "--revision", "3", "--step", "3", "-m", "go"], PAUSED, None),
    (["promote", "web", "--revision=3"], PAUSED, None),
    (["promote", "--full", "web"], JUDGING, None),
    (["promote", "web", "--full", "--step", "2"], JUDGING, None),
    (["judge", "web", "--approve"], JUDGING, None),
    (["judge", "web", "--reject", "-m", "p95 doubled"], JUDGING, None),
    (["judge", "web", "--approve", "--revision", "3", "--step", "2"], JUDGING, None),
    (["judge", "web", "--approve", "-i", "ticket=OPS-1"], JUDGING, GATED),
    (["judge", "web", "--approve", "--input", "verdict=fine", "-i", "ticket=OPS=1",
      "--input=note=", "-i", "ticket=OPS-2"], JUDGING, GATED),
    (["judge", "web", "--reject"], JUDGING, GATED),  # rejecting needs no required input
    (["judge", "web", "--approve", "-i", "any=thing"], JUDGING, ANALYSED),  # inconclusive
]  # fmt: skip

# (command line, status, steps, environment): each one left to typer, nothing written.
LEFT: list[tuple[list[str], RolloutStatus | None, str | None, dict[str, str]]] = [
    (["abort", "nope"], JUDGING, None, {}),
    (["abort", "web"], None, None, {}),  # recorded, never started
    (["abort", "web"], status(Phase.COMPLETED), None, {}),
    (["abort", "web"], status(Phase.SCALING_DOWN), None, {}),
    (["abort", "web", "--help"], JUDGING, None, {}),
    (["--help"], JUDGING, None, {}),
    (["abort"], JUDGING, None, {}),
    (["abort", "web", "other"], JUDGING, None, {}),
    (["abort", "web", "--wait", "1"], JUDGING, None, {}),
    (["abort", "web", "-n", "prod"], JUDGING, None, {}),
    (["abort", "web", "--context", "kind"], JUDGING, None, {}),
    (["abort", "web", "--kubeconfig=/k"], JUDGING, None, {}),
    (["abort", "web"], JUDGING, None, {"SERINUS_MODE": "cluster"}),
    (["abort", "web"], JUDGING, None, {"SERINUS_MODE": "bogus"}),
    (["abort", "web", "-m"], JUDGING, None, {}),
    (["abort", "web", "-m", "-x"], JUDGING, None, {}),
    (["abort", "web", "-mwhy"], JUDGING, None, {}),
    (["abort", "--", "web"], JUDGING, None, {}),
    (["abort", "web", "--full"], JUDGING, None, {}),
    (["--state-dir", "", "abort", "web"], JUDGING, None, {}),
    (["--verbose", "abort", "web"], JUDGING, None, {}),
    (["undo", "web"], status(Phase.COMPLETED, previous_version="v0"), None, {}),
    (["retry", "web"], status(Phase.ABORTED, canary=None), None, {}),
    (["pause", "web"], status(Phase.PAUSED, paused_by_user=True), None, {}),
    (["resume", "web"], PAUSED, None, {}),
    (["promote", "web"], JUDGING, None, {}),
    (["promote", "web", "--full=yes"], JUDGING, None, {}),
    (["promote", "web", "--revision", "2"], PAUSED, None, {}),
    (["promote", "web", "--step", "2"], PAUSED, None, {}),
    (["promote", "web", "--step", "0"], PAUSED, None, {}),
    (["promote", "web", "--step", "03"], PAUSED, None, {}),
    (["promote", "web", "--step", "+3"], PAUSED, None, {}),
    (["promote", "web", "--step", "three"], PAUSED, None, {}),
    (["judge", "web"], JUDGING, None, {}),
    (["judge", "web", "--approve", "--reject"], JUDGING, None, {}),
    (["judge", "web", "--approve"], PAUSED, None, {}),
    (["judge", "web", "--approve", "--step", "3"], JUDGING, None, {}),
    (["judge", "web", "--approve", "-i", "ticket"], JUDGING, GATED, {}),
    (["judge", "web", "--approve", "-i", "=x"], JUDGING, GATED, {}),
    (["judge", "web", "--approve"], JUDGING, GATED, {}),  # ticket is required to approve
    (["judge", "web", "--reject", "-i", "verdict=great"], JUDGING, GATED, {}),
    (["judge", "web", "--reject", "-i", "unknown=1"], JUDGING, GATED, {}),
    (["judge", "web", "--approve", "-i", "x=1"], JUDGING, None, {}),
    (["judge", "web", "--approve"], status(Phase.AWAITING_JUDGEMENT, step_index=7), None, {}),
]  # fmt: skip


def _rows(state: State) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(state.database) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("rollouts", "intents", "events")
        }


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths read the same clock (the intent's `at`) and name the same actor."""
    monkeypatch.setattr(time, "time", lambda: 1796190000.123456)
    monkeypatch.setattr("getpass.getuser", lambda: "ana")
    monkeypatch.delenv("SERINUS_MODE", raising=False)


@pytest.mark.parametrize(("args", "seen", "steps"), RECORDED, ids=lambda v: str(v)[:40])
def test_both_paths_write_the_same_rows_and_print_the_same_line(
    args: list[str],
    seen: RolloutStatus,
    steps: str | None,
    state: State,
    frozen: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fast, typer = state, type(state)(state.folder.with_name("typer"))
    for each in (fast, typer):
        each.put(seen, steps=steps)

    assert fast_path.handled(["--state-dir", str(fast.folder), *args]) == 0
    printed = capsys.readouterr().out
    done = typer.cli(*args)

    assert done.exit_code == 0, done.stderr
    assert _rows(fast) == _rows(typer)
    assert len(_rows(fast)["intents"]) == 1
    assert printed == done.stdout


@pytest.mark.parametrize(
    "where",
    [["--state-dir={folder}"], ["--state-dir", "{folder}"], []],
    ids=["equals", "option", "environment"],
)
def test_the_state_folder_is_found_as_typer_finds_it(
    where: list[str],
    state: State,
    frozen: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state.put(JUDGING)
    folder = str(state.folder)
    argv = [arg.replace("{folder}", folder) for arg in where]
    if not where:
        monkeypatch.setenv("SERINUS_STATE_DIR", folder)

    assert fast_path.handled([*argv, "abort", "web"]) == 0
    assert capsys.readouterr().out.startswith("abort of web recorded (#1)")
    assert len(_rows(state)["intents"]) == 1


@pytest.mark.parametrize(("args", "seen", "steps", "env"), LEFT, ids=lambda v: str(v)[:40])
def test_what_it_is_not_sure_of_is_left_to_typer_with_nothing_written(
    args: list[str],
    seen: RolloutStatus | None,
    steps: str | None,
    env: dict[str, str],
    state: State,
    frozen: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state.put(seen, steps=steps)
    before = _rows(state)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    assert fast_path.handled(["--state-dir", str(state.folder), *args]) is None
    monkeypatch.setenv("SERINUS_STATE_DIR", str(state.folder))
    assert fast_path.handled(args) is None

    assert _rows(state) == before


def test_it_rings_the_doorbell_once_the_intent_is_visible(state: State, frozen: None) -> None:
    """The fast path's commit alone rings the driver's bell (SQLite's data_version)."""
    state.put(JUDGING)
    driver = sqlite3.connect(state.database)  # open, as the driver's store is: no checkpoint
    try:
        driver.execute("SELECT name FROM rollouts").fetchall()
        bell = StoreBell(state.database)

        assert fast_path.handled(["--state-dir", str(state.folder), "abort", "web"]) == 0

        assert bell.rang()
    finally:
        driver.close()


def test_with_a_driver_running_it_says_the_driver_acts_as_typer_does(
    state: State, frozen: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lock `serinus run` holds (app.driver's DriverLock) is the one the fast path reads."""
    state.put(JUDGING)

    with DriverLock(state.folder / "rollouts" / "web", "web"):
        assert fast_path.handled(["--state-dir", str(state.folder), "abort", "web"]) == 0
        typer = state.cli("abort", "web")

    fast = capsys.readouterr().out
    driven = "the driver acts on it (`serinus get web` shows the outcome)"
    assert fast == f"abort of web recorded (#1); {driven}\n"
    assert typer.stdout == fast.replace("#1", "#2")


def test_without_a_state_folder_it_creates_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "none"

    assert fast_path.handled(["--state-dir", str(folder), "abort", "web"]) is None
    assert not folder.exists()


KINDS = [kind for kind in IntentKind if kind is not IntentKind.UNDO]  # undo is typer's


@pytest.mark.parametrize("kind", KINDS)
def test_it_applies_exactly_where_the_core_s_refusal_does(kind: IntentKind) -> None:
    teardown = ScheduledTeardown(color="blue", version="v1", due=5.0)
    for phase, teardowns, canary, paused, previous in itertools.product(
        Phase, ([], [teardown]), (None, GREEN), (False, True), (None, "v0")
    ):
        seen = RolloutStatus(
            phase=phase,
            stable=BLUE,
            canary=canary,
            teardowns=teardowns,
            paused_by_user=paused,
            previous_version=previous,
        )
        stored = json.loads(json.dumps(seen.to_storage()))

        assert fast_path._applies(kind.value, stored) == (refusal(kind, seen) is None), (
            f"{kind} on {seen!r}: update fast_path._applies to follow core.intents.refusal"
        )


# Runs `serinus ARGS` in a fresh interpreter (as the installed command does) and prints, on its
# last stderr line, which of the heavy modules it loaded.
PROBE = """
import json, sys
from serinus.entrypoints.cli.main import main
sys.argv = ["serinus", *sys.argv[1:]]
try:
    main()
finally:
    heavy = ("typer", "pydantic", "asyncio", "rich", "serinus.core.status")
    print(json.dumps([m for m in heavy if m in sys.modules]), file=sys.stderr)
"""


def _serinus(state: State, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, "--state-dir", str(state.folder), *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(state.folder)},
    )  # fmt: skip


def test_the_command_takes_it_without_typer_pydantic_or_asyncio(state: State) -> None:
    state.put(JUDGING)

    done = _serinus(state, "abort", "web")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("abort of web recorded (#1); ")
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def test_an_unknown_rollout_gets_typer_s_message_and_exit_code(state: State) -> None:
    state.put(JUDGING)

    done = _serinus(state, "abort", "nope")

    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "error: rollout 'nope' not found"
    assert "typer" in json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("args", "phase"),
    [(["abort", "web"], Phase.ABORTED), (["judge", "web", "--approve"], Phase.PAUSED)],
)
async def test_the_engine_woken_by_the_doorbell_consumes_what_it_records(
    args: list[str], phase: Phase, state: State
) -> None:
    store = SqliteStateStore(state.database)
    try:
        steps = [{"setWeight": 10}, {"judgement": {}}, {"pause": {}}]
        rollout = make_rollout({"blueGreenCanary": {"steps": steps, "abortScaleDownDelay": 0}})
        engine = Engine(store, MemoryRouter(), MemoryPlatform(MemoryWorld()), clock=Clock())
        await operations.submit(store, rollout)
        await drive(engine, "web", lambda _: None, poll=0.001)
        await operations.submit(store, rollout.with_version("v2"))
        judging = asyncio.Event()

        def update(result: Reconciled) -> None:
            if result.status.phase is Phase.AWAITING_JUDGEMENT:
                judging.set()

        await drive(engine, "web", update, stop=judging, poll=0.001)
        reached = asyncio.Event()

        def watch(result: Reconciled) -> None:
            if result.status.phase is phase:
                reached.set()

        # An hour's poll: only the doorbell (the fast path's commit) brings the driver back.
        driving = asyncio.create_task(drive(engine, "web", watch, stop=reached, poll=3600))
        done = await asyncio.to_thread(_serinus, state, *args)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stderr.strip().splitlines()[-1]) == [], "the fast path took it"
        result = await asyncio.wait_for(driving, timeout=30)

        assert result.status.phase is phase
        (intent,) = await store.intents("web")
        assert intent.kind.value == args[0] and intent.outcome is not None
        assert not await store.pending_intents("web")
    finally:
        await store.close()
