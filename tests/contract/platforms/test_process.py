"""The process platform passes the Platform contract, running the real demo app as replicas.

Platforms opened by one test share a state directory (a new one adopts the replicas of the
previous); whatever they started is torn down when the test ends.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from tests.contract.platforms.contract import PlatformContract, PlatformHandles

from serinus.adapters.platforms.process import ProcessPlatform
from serinus.core.ports import Platform
from serinus.core.spec import ProcessWorkload

pytestmark = pytest.mark.integration


def demo_workload(startup_delay: float = 0.1, **fields: Any) -> ProcessWorkload:
    """The demo app as a workload, answering with the version it was started with."""
    command = [
        sys.executable,
        "-m",
        "serinus.demo.app",
        "--port",
        "{port}",
        "--version",
        "{version}",
        "--startup-delay",
        str(startup_delay),
    ]
    return ProcessWorkload.model_validate(
        {
            "command": command,
            "readiness": {"periodSeconds": 0.05},
            "terminationGraceSeconds": 5,
            **fields,
        }
    )


def failing_workload() -> ProcessWorkload:
    command = [sys.executable, "-c", "import sys; print('boom: no config'); sys.exit(3)"]
    return ProcessWorkload.model_validate({"command": command})


class ProcessHandles:
    settle_seconds = 20.0

    def __init__(self, root: Path, workload: ProcessWorkload) -> None:
        self.state_dir = root / "state"
        self.failing_dir = root / "failing"
        self.workload = workload

    def open(self) -> ProcessPlatform:
        return ProcessPlatform("shop", self.workload, self.state_dir)

    def open_failing(self) -> Platform:
        return ProcessPlatform("broken", failing_workload(), self.failing_dir)

    async def clean_up(self) -> None:
        for platform in (self.open(), self.open_failing()):
            assert isinstance(platform, ProcessPlatform)
            await platform.tear_down_all()
            await platform.close()


@pytest.fixture
async def process_handles(tmp_path: Path) -> Any:
    handles = ProcessHandles(tmp_path, demo_workload())
    try:
        yield handles
    finally:
        await handles.clean_up()


class TestProcessPlatform(PlatformContract):
    @pytest.fixture
    def platform_handles(self, process_handles: ProcessHandles) -> PlatformHandles:
        return process_handles
