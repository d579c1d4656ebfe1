"""The process platform's integration tests share a state directory fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from serinus.adapters.platforms.process.census import find_replicas
from serinus.adapters.platforms.process.processes import Running, terminate

ROLLOUTS = ("shop", "other")


@pytest.fixture
async def state_dir(tmp_path: Path) -> AsyncIterator[Path]:
    """A state directory whose replica processes are all stopped when the test ends, found
    from the process table, so whatever a test did to the records nothing is left running."""
    directory = tmp_path / "state"
    try:
        yield directory
    finally:
        for rollout in ROLLOUTS:
            found = find_replicas(directory, rollout)
            await terminate([Running(f.pid, f.create_time) for f in found], grace_seconds=5)
            assert find_replicas(directory, rollout) == []
