"""The in-memory platform passes the Platform contract; platforms share one MemoryWorld."""

from __future__ import annotations

import pytest
from tests.contract.platforms.contract import PlatformContract, PlatformHandles, eventually

from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.core.ports import Platform


class MemoryHandles:
    settle_seconds = 2.0

    def __init__(self) -> None:
        self.world = MemoryWorld(observes_until_ready=2)

    def open(self) -> Platform:
        return MemoryPlatform(self.world)

    def open_failing(self) -> Platform:
        return MemoryPlatform(MemoryWorld(failing_versions={"v9": "command exited with code 3"}))


class TestMemoryPlatform(PlatformContract):
    @pytest.fixture
    def platform_handles(self) -> PlatformHandles:
        return MemoryHandles()


async def test_adoption_starts_nothing_again() -> None:
    world = MemoryWorld()
    first = MemoryPlatform(world)
    await first.ensure("blue", "v1", 3)
    await first.close()
    second = MemoryPlatform(world)
    await second.ensure("blue", "v1", 3)
    assert world.starts == 3


async def test_a_crashed_replica_restarts_on_a_new_port_and_becomes_ready() -> None:
    world = MemoryWorld(observes_until_ready=1)
    platform = MemoryPlatform(world)
    await platform.ensure("blue", "v1", 2)
    before = (await platform.observe())["blue"]
    world.crash("blue", 1)
    after = (await platform.observe())["blue"]
    assert after.ready == 2
    assert after.endpoints[0] == before.endpoints[0]
    assert after.endpoints[1].port != before.endpoints[1].port
    assert (world.starts, world.restarts) == (3, 1)


async def test_a_version_failing_later_reports_its_reason() -> None:
    world = MemoryWorld(observes_until_ready=0)
    platform = MemoryPlatform(world)
    await platform.ensure("green", "v2", 1)
    world.fail_version("v2", "command exited with code 2: boom")
    state = await eventually(platform, lambda s: s["green"].ready == 0, 1.0, "green unready")
    assert state["green"].failure == "command exited with code 2: boom"
