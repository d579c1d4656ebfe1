"""`serinus plan` as a user runs it: from a recorded rollout in a real state directory, the plan
it prints is what the engine then performs, and it writes nothing, starts no process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.app.planning import flattened
from serinus.core.documents import load_rollout
from serinus.core.intents import IntentKind
from serinus.core.status import Phase

EXAMPLE = Path(__file__).parents[2] / "examples" / "blue-green-canary" / "rollout.yaml"
SERINUS = Path(sys.executable).with_name("serinus")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with a hash of its content."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def trap_bin(folder: Path, marker: Path) -> Path:
    """`haproxy` and `python3` that leave `marker` behind if anything starts them."""
    folder.mkdir()
    for name in ("haproxy", "python3"):
        script = folder / name
        script.write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        script.chmod(0o755)
    return folder


def serinus(state: Path, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SERINUS_STATE_DIR": str(state), "PATH": f"{path}:{os.environ['PATH']}"}
    return subprocess.run(
        [str(SERINUS), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


class Recorded:
    """A rollout recorded in the state directory's SQLite store, driven by the real engine."""

    def __init__(self, state: Path) -> None:
        self.path = state / "serinus.db"
        self.store = SqliteStateStore(self.path)
        self.now = 1000.0
        self.engine = Engine(
            self.store, MemoryRouter(), MemoryPlatform(MemoryWorld()), clock=lambda: self.now
        )

    async def reopen(self) -> None:
        """A new connection, as the next `serinus` command has (the last close checkpoints)."""
        await self.store.close()
        self.store = self.engine.store = SqliteStateStore(self.path)

    async def roll(self, rollout: Any) -> list[dict[str, Any]]:
        await operations.submit(self.store, rollout)
        done: list[dict[str, Any]] = []
        for _ in range(500):
            result = await self.engine.reconcile(rollout.name)
            assert result.error is None and result.decision is not None
            done += [action.to_data() for action in flattened(result.decision.actions)]
            if result.status.terminal:
                return done
            pending = await self.store.pending_intents(rollout.name)
            if result.status.phase is Phase.AWAITING_JUDGEMENT and not pending:
                await operations.request(
                    self.store,
                    rollout.name,
                    IntentKind.JUDGE,
                    actor="ana",
                    source="test",
                    approve=True,
                    inputs={"ticket": "OPS-1"},
                )
            self.now += 1.0
        raise AssertionError("the rollout did not finish")


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, Path]:
    state = tmp_path / "state"
    state.mkdir()
    marker = tmp_path / "started"
    return state, trap_bin(tmp_path / "bin", marker), marker


async def test_plan_prints_what_the_engine_then_does_and_writes_nothing(
    world: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    state, path, marker = world
    v1 = load_rollout(EXAMPLE.read_bytes(), source=str(EXAMPLE))
    recorded = Recorded(state)
    await recorded.roll(v1)
    v2_file = tmp_path / "v2.yaml"
    v2_file.write_text(EXAMPLE.read_text().replace("version: v1", "version: v2"))
    await recorded.store.close()  # the database as `serinus run` leaves it when it ends
    before = snapshot(state)

    planned = serinus(state, path, "plan", str(v2_file), "-o", "json")
    text = serinus(state, path, "plan", str(v2_file))

    assert planned.returncode == 0, planned.stderr
    assert text.returncode == 0, text.stderr
    assert snapshot(state) == before  # the store (database and WAL) is byte for byte the same
    assert not marker.exists()  # neither HAProxy nor a replica was started
    assert not (state / "rollouts").exists()  # no driver lock, no HAProxy configuration
    plan = json.loads(planned.stdout)
    assert plan["from"]["stable"] == "v1" and plan["final"]["stable"] == "v2"
    assert "step 3/4: judgement" in text.stdout
    assert "assumed: judgement approved with ticket=planned" in text.stdout
    assert text.stdout.rstrip().endswith("Nothing was written.")

    await recorded.reopen()
    performed = await recorded.roll(load_rollout(v2_file.read_bytes(), source=str(v2_file)))
    assert [a for entry in plan["entries"] for a in entry["actions"]] == performed
    await recorded.store.close()


def test_plan_and_run_dry_run_without_a_state_directory_create_none(
    world: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, path, marker = world
    missing = tmp_path / "never"
    result = serinus(missing, path, "plan", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "first deployment of v1" in result.stdout
    assert "run 3 replica(s) of v1 as blue" in result.stdout
    dry_run = serinus(missing, path, "run", str(EXAMPLE), "--dry-run")
    assert dry_run.returncode == 0, dry_run.stderr
    assert dry_run.stdout == result.stdout
    assert not missing.exists() and not marker.exists()


def test_plan_of_a_bad_file_names_the_field(world: tuple[Path, Path, Path], tmp_path: Path) -> None:
    state, path, _ = world
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("replicas: 3", "replicas: -1"))
    result = serinus(state, path, "plan", str(bad))
    assert result.returncode == 2
    assert "replicas" in result.stderr
    assert snapshot(state) == {}


def test_the_cluster_mode_refuses_a_file_of_another_namespace(tmp_path: Path) -> None:
    """As kubectl: `-n` and the file's metadata.namespace must agree (nothing is contacted)."""
    document = load_rollout(EXAMPLE.read_bytes(), source=str(EXAMPLE)).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    document["metadata"]["namespace"] = "shop"
    file = tmp_path / "rollout.json"
    file.write_text(json.dumps(document))
    done = serinus(
        tmp_path / "state",
        trap_bin(tmp_path / "bin", tmp_path / "ran"),
        "plan",
        str(file),
        "-n",
        "other",
        "--kubeconfig",
        str(tmp_path / "none"),
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "metadata.namespace: the file says 'shop', --namespace says 'other'" in (
        done.stdout + done.stderr
    )
