"""The process platform's crash windows (issue 8): what a killed serinus leaves half done.

Each test puts the state directory exactly where a `kill -9` at that moment leaves it (the
records are written at fixed points: before a stop, right after a spawn), then opens a new
platform on it, as a restarted `serinus run` would. `benchmarks/kill_local.py` kills real
`serinus run` processes at these points.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.contract.platforms.contract import eventually, ready
from tests.contract.platforms.test_process import demo_workload

from serinus.adapters.platforms.process import ProcessPlatform
from serinus.adapters.platforms.process.census import find_replicas, markers
from serinus.adapters.platforms.process.processes import free_loopback_port, render, spawn

pytestmark = pytest.mark.integration

SETTLE = 20.0


def running(state_dir: Path) -> dict[tuple[str, str, int], int]:
    """(color, version, replica) -> pid of every replica process in the process table."""
    found = find_replicas(state_dir, "shop")
    table = {(f.color, f.version, f.replica): f.pid for f in found}
    assert len(table) == len(found), f"two processes for one slot: {found}"
    return table


def edit_record(state_dir: Path, color: str, change: Any) -> None:
    path = state_dir / f"{color}.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


async def started(state_dir: Path, version: str = "v1", replicas: int = 2) -> dict[Any, int]:
    platform = ProcessPlatform("shop", demo_workload(), state_dir)
    await platform.ensure("blue", version, replicas)
    await eventually(platform, ready("blue", version, replicas), SETTLE, "blue ready")
    await platform.close()
    return running(state_dir)


async def test_a_process_spawned_but_not_recorded_is_adopted_not_duplicated(
    state_dir: Path,
) -> None:
    before = await started(state_dir)

    def forget_replica_1(data: dict[str, Any]) -> None:  # killed between spawn and record
        data["members"][1].update(pid=None, createTime=None, port=None)

    edit_record(state_dir, "blue", forget_replica_1)
    again = ProcessPlatform("shop", demo_workload(), state_dir)
    await again.ensure("blue", "v1", 2)
    await eventually(again, ready("blue", "v1", 2), SETTLE, "blue ready again")
    assert running(state_dir) == before, "the unrecorded process was adopted, none started"
    assert [r.pid for r in again.records("blue")] == [before[("blue", "v1", i)] for i in (0, 1)]
    await again.close()


async def test_replicas_are_found_again_when_the_state_folder_is_removed(
    state_dir: Path,
) -> None:
    before = await started(state_dir)
    shutil.rmtree(state_dir)
    again = ProcessPlatform("shop", demo_workload(), state_dir)
    await again.ensure("blue", "v1", 2)
    await eventually(again, ready("blue", "v1", 2), SETTLE, "blue adopted")
    assert running(state_dir) == before
    await again.close()


async def test_delete_stops_every_process_even_with_the_state_folder_gone(
    state_dir: Path,
) -> None:
    before = await started(state_dir)
    shutil.rmtree(state_dir)
    remover = ProcessPlatform("shop", demo_workload(), state_dir)
    await remover.tear_down_all()
    await remover.close()
    assert running(state_dir) == {}
    assert not any(psutil.pid_exists(pid) and _alive(pid) for pid in before.values())


async def test_an_interrupted_teardown_is_finished_never_started_again(
    state_dir: Path,
) -> None:
    before = await started(state_dir)
    # Killed in the middle of tear_down: the record says retiring, one replica already ended.
    edit_record(state_dir, "blue", lambda data: data.update(retiring=True))
    psutil.Process(before[("blue", "v1", 0)]).kill()
    again = ProcessPlatform("shop", demo_workload(), state_dir)
    assert await again.observe() == {}, "a retiring color is not reported"
    assert running(state_dir) == {}, "the rest was stopped and nothing started again"
    assert not (state_dir / "blue.json").exists()
    await again.close()


async def test_an_interrupted_version_replacement_starts_only_the_new_version(
    state_dir: Path,
) -> None:
    await started(state_dir)
    edit_record(state_dir, "blue", lambda data: data.update(retiring=True))
    again = ProcessPlatform("shop", demo_workload(), state_dir)
    await again.ensure("blue", "v2", 2)
    await eventually(again, ready("blue", "v2", 2), SETTLE, "blue v2 ready")
    assert set(running(state_dir)) == {("blue", "v2", 0), ("blue", "v2", 1)}
    await again.close()


async def test_a_stray_duplicate_of_a_recorded_slot_is_stopped(state_dir: Path) -> None:
    """A process with this directory's markers whose slot already runs another is stopped."""
    first = await started(state_dir, replicas=1)
    port = free_loopback_port()
    command = [render(part, port=port, version="v1") for part in demo_workload().command]
    env = {**os.environ, **markers(state_dir, "shop", "blue", "v1", 0, port)}
    stray = spawn(command, env, None, state_dir / "stray.log")
    assert len(find_replicas(state_dir, "shop")) == 2
    platform = ProcessPlatform("shop", demo_workload(), state_dir)
    await platform.observe()
    assert running(state_dir) == first
    assert stray.popen.wait(timeout=10) is not None
    await platform.close()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_a_process_beyond_the_recorded_replicas_is_stopped_not_adopted(
    state_dir: Path,
) -> None:
    before = await started(state_dir)

    def one_replica(data: dict[str, Any]) -> None:
        data.update(replicas=1, members=data["members"][:1])

    edit_record(state_dir, "blue", one_replica)
    again = ProcessPlatform("shop", demo_workload(), state_dir)
    state = await again.observe()
    assert state["blue"].desired == 1
    assert running(state_dir) == {("blue", "v1", 0): before[("blue", "v1", 0)]}
    await again.close()
