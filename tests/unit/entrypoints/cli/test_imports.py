"""`serinus get`, `status` and `list` load neither numpy nor scipy, even for a rollout whose
status holds a sequential analysis run: the judges import them only when they judge.

Each command runs in a fresh interpreter, as a user starts it (`python -m
serinus.entrypoints.cli`), on a state folder recorded beforehand; the probe writes the modules
it ended with to a file, so the command's own output stays as the user sees it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sequential_world import analysing, looks, rollout_document

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app.settings import LocalSettings
from serinus.core.documents import validate_model
from serinus.core.spec import Rollout

HEAVY = ("numpy", "scipy")
PROBE = f"""
import json, runpy, sys
out, sys.argv = sys.argv[1], ["serinus", *sys.argv[2:]]
code = 0
try:
    runpy.run_module("serinus.entrypoints.cli", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
heavy = sorted(name for name in sys.modules if name.split(".")[0] in {set(HEAVY)!r})
with open(out, "w") as sink:
    json.dump({{"code": code, "heavy": heavy}}, sink)
"""


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder with the rollout `seq` on its sequential analysis step."""
    folder = tmp_path_factory.mktemp("imports") / "state"
    rollout = validate_model(Rollout, rollout_document("seq"), "test")
    running, _ = looks(time.time() - 10)

    async def record() -> None:
        store = SqliteStateStore(LocalSettings(folder).database)
        try:
            await store.submit(rollout)
            await store.save("seq", analysing(running, time.time() - 10), [], [])
        finally:
            await store.close()

    asyncio.run(record())
    return folder


def run_probe(state_dir: Path, *args: str) -> tuple[dict[str, Any], str]:
    out = state_dir.parent / "probe.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.exists(), done.stderr
    probed: dict[str, Any] = json.loads(out.read_text())
    return probed, done.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["get", "seq"], 0),
        (["get", "seq", "-o", "wide"], 0),
        (["list"], 0),
        (["status", "seq", "--no-wait"], 6),  # in progress: 6
    ],
)
def test_reading_a_rollout_loads_neither_numpy_nor_scipy(
    state_dir: Path, args: list[str], code: int
) -> None:
    probed, output = run_probe(state_dir, *args)
    assert probed["code"] == code, output
    assert "seq" in output  # the command did its work on the recorded rollout
    assert probed["heavy"] == [], f"serinus {' '.join(args)} imported {probed['heavy']}"


def test_the_probe_sees_numpy_once_a_command_judges(state_dir: Path) -> None:
    # the same probe, on a command that imports the judge on purpose: it would see numpy
    probed, _ = run_probe(state_dir, "analyze", "compare", "--help")
    assert probed["code"] == 0
    assert "numpy" in probed["heavy"], probed
