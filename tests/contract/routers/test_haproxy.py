"""The HAProxy router passes the TrafficRouter contract, against a real HAProxy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from tests.contract.routers.contract import CONTRACT_HEADER_ROUTES, TrafficRouterContract
from tests.integration.adapters.routers.haproxy.backends import (
    Backends,
    free_port,
    requires_haproxy,
    running_backends,
)

from serinus.adapters.routers.haproxy import HaproxyRouter
from serinus.adapters.routers.haproxy.layout import MAIN_BACKEND
from serinus.core.errors import RouterError
from serinus.core.spec import HaproxyRouting
from serinus.core.status import COLORS, Color, Endpoint

pytestmark = [pytest.mark.integration, requires_haproxy]


def replay(start: Mapping[str, tuple[int, str]], commands: list[str]) -> list[dict[Color, int]]:
    """Per-color capacity of be_main after each weight/state command sent to HAProxy."""
    servers = dict(start)

    def capacity() -> dict[Color, int]:
        totals: dict[Color, int] = dict.fromkeys(COLORS, 0)
        for name, (weight, admin) in servers.items():
            if admin == "ready":
                totals["blue" if name.startswith("blue-") else "green"] += weight
        return totals

    snapshots = [capacity()]
    prefix = f"set server {MAIN_BACKEND}/"
    for command in commands:
        if not command.startswith(prefix):
            continue
        name, verb, value = command[len(prefix) :].split()[:3]
        weight, admin = servers[name]
        if verb == "weight":
            servers[name] = (int(value), admin)
        elif verb == "state":
            servers[name] = (weight, value)
        else:
            continue
        snapshots.append(capacity())
    return snapshots


class HaproxyHarness:
    has_preview = True

    def __init__(self, backends: Backends, state_dir: Path) -> None:
        self.backends = backends
        self.commands: list[str] = []
        self.routing = HaproxyRouting(port=free_port(), preview_port=free_port())
        self.haproxy = HaproxyRouter(
            "contract",
            self.routing,
            slots_per_color=4,
            state_dir=state_dir,
            header_routes=CONTRACT_HEADER_ROUTES,
            health_check_path="/healthz",
            on_command=self.commands.append,
        )
        self.client = httpx.AsyncClient(timeout=5.0)
        self._mark = 0
        self._start: dict[str, tuple[int, str]] = {}

    @property
    def router(self) -> HaproxyRouter:
        return self.haproxy

    def endpoints(self, color: Color) -> list[Endpoint]:
        return self.backends.endpoints(color)

    async def start_recording(self) -> None:
        servers = await self.haproxy.runtime.servers(MAIN_BACKEND)
        self._start = {name: (s.weight, s.admin) for (_, name), s in servers.items()}
        self._mark = len(self.commands)

    async def recorded_capacity(self) -> list[dict[Color, int]]:
        return replay(self._start, self.commands[self._mark :])

    async def destination(self, headers: Mapping[str, str]) -> Color:
        answer = await self.client.get(f"http://127.0.0.1:{self.routing.port}/", headers=headers)
        assert answer.status_code == 200, answer.text
        return _color(answer.text)

    async def preview_destination(self) -> Color | None:
        answer = await self.client.get(f"http://127.0.0.1:{self.routing.preview_port}/")
        if answer.status_code == 503:
            return None
        assert answer.status_code == 200, answer.text
        return _color(answer.text)


def _color(body: str) -> Color:
    return "blue" if body.startswith("blue-") else "green"


@pytest.fixture(scope="module")
def backends() -> Iterator[Backends]:
    with running_backends(4) as started:
        yield started


@pytest.fixture
async def harness(backends: Backends, tmp_path: Path) -> AsyncIterator[HaproxyHarness]:
    for attempt in range(3):  # a free port may be taken by a parallel test before HAProxy binds
        built = HaproxyHarness(backends, tmp_path / f"state{attempt}")
        try:
            await built.router.prepare()
            break
        except RouterError as exc:
            await built.router.stop()
            await built.client.aclose()
            if "already in use" not in str(exc) or attempt == 2:
                raise
    try:
        for color in COLORS:
            await built.router.sync_endpoints(color, built.endpoints(color)[:2])
        await built.router.set_weights({"blue": 100, "green": 0})
        yield built
    finally:
        await built.client.aclose()
        await built.router.stop()


class TestHaproxyRouterContract(TrafficRouterContract):
    pass
