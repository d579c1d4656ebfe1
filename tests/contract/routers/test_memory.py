"""The in-memory fake router passes the TrafficRouter contract."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from tests.contract.routers.contract import TrafficRouterContract

from serinus.adapters.routers.memory import MemoryRouter
from serinus.core.errors import RouterError
from serinus.core.status import COLORS, Color, Endpoint


class MemoryHarness:
    has_preview = True

    def __init__(self) -> None:
        self.memory = MemoryRouter()
        self._recorded_from = 0
        self._start: dict[Color, int] = {}

    @property
    def router(self) -> MemoryRouter:
        return self.memory

    def endpoints(self, color: Color) -> list[Endpoint]:
        base = 9000 if color == "blue" else 9100
        return [Endpoint(host="127.0.0.1", port=base + i, ready=True, replica=i) for i in range(4)]

    async def start_recording(self) -> None:
        self._recorded_from = len(self.memory.writes)
        self._start = dict(self.memory.weights)

    async def recorded_capacity(self) -> list[dict[Color, int]]:
        return [self._start, *self.memory.writes[self._recorded_from :]]

    async def destination(self, headers: Mapping[str, str]) -> Color:
        color = self.memory.destination(headers)
        assert color is not None, "the contract asked for a destination during a split"
        return color

    async def preview_destination(self) -> Color | None:
        return self.memory.preview


@pytest.fixture
async def harness() -> MemoryHarness:
    built = MemoryHarness()
    await built.router.prepare()
    for color in COLORS:
        await built.router.sync_endpoints(color, built.endpoints(color)[:2])
    await built.router.set_weights({"blue": 100, "green": 0})
    return built


class TestMemoryRouterContract(TrafficRouterContract):
    pass


async def test_injected_failures_raise_once() -> None:
    router = MemoryRouter()
    await router.sync_endpoints("green", MemoryHarness().endpoints("green"))
    router.fail_next("set_weights")
    with pytest.raises(RouterError):
        await router.set_weights({"green": 100})
    await router.set_weights({"green": 100})
    assert await router.read_weights() == {"blue": 0, "green": 100}


async def test_without_a_preview_route_set_preview_is_a_no_op() -> None:
    router = MemoryRouter(has_preview=False)
    await router.set_preview("green")
    assert router.preview is None
