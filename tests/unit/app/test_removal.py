"""Removing a rollout stops everything it can, even when one step fails."""

from __future__ import annotations

import pytest

from serinus.adapters.platforms.memory import MemoryPlatform
from serinus.adapters.routers.memory import MemoryRouter
from serinus.app.removal import stop_everything
from serinus.core.errors import PlatformError
from serinus.core.status import Color


class FailingBluePlatform(MemoryPlatform):
    async def tear_down(self, color: Color) -> None:
        if color == "blue":
            raise PlatformError("blue cannot be stopped")
        await super().tear_down(color)


class StoppableMemoryRouter(MemoryRouter):
    stopped = False

    async def stop(self) -> None:
        self.stopped = True


async def test_one_color_that_cannot_be_stopped_does_not_leave_the_rest_running() -> None:
    platform, router = FailingBluePlatform(), StoppableMemoryRouter()
    await platform.ensure("blue", "v1", 1)
    await platform.ensure("green", "v2", 1)
    with pytest.raises(PlatformError, match="blue cannot be stopped"):
        await stop_everything(platform, router)
    assert set(platform.world.colors) == {"blue"}, "green was torn down all the same"
    assert router.stopped
