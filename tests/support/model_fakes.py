"""The fake adapters of the model-based test (tests/unit/app/test_model.py): the in-memory
platform, router and store with failures injected on demand, and a scripted metric provider.

The platform checks, at the moment of every teardown and provisioning, the invariants that are
about effects (it asks the `ModelWorld` it belongs to); the router can stay unreachable for a
while; the store's next save can fail. `STATS` counts what every check saw.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from model_invariants import SETTLED as SETTLED
from model_invariants import provider_call_can_matter

from serinus.adapters.platforms.memory import MemoryPlatform
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.memory import MemoryState, MemoryStateStore
from serinus.core.errors import MetricsError, PlatformError, RouterError, StoreError
from serinus.core.events import Event
from serinus.core.intents import Intent
from serinus.core.status import (
    Color,
    ColorState,
    Endpoint,
    RolloutStatus,
)

if TYPE_CHECKING:
    from model_world import ModelWorld

METRIC_MODES: dict[str, list[float] | None] = {
    "good": [0.01],
    "bad": [0.9],
    "unsure": [0.2],
    "nan": [math.nan],
    "empty": [],
    "error": None,  # the provider raises
}


# What the checks saw, over every example of a run (the benchmark prints it; tests may assert
# that each invariant was really exercised).
STATS: Counter[str] = Counter()


class GuardedPlatform:
    """A MemoryPlatform that can fail on demand and checks every teardown and provisioning."""

    def __init__(self, world: ModelWorld) -> None:
        self.model = world
        self.inner = MemoryPlatform(world.replicas)
        self.failing: set[str] = set()

    def _maybe_fail(self, method: str) -> None:
        if method in self.failing:
            self.failing.discard(method)
            raise PlatformError(f"injected failure of {method}")

    async def ensure(self, color: Color, version: str, replicas: int) -> None:
        self._maybe_fail("ensure")
        current = self.model.replicas.colors.get(color)
        if current is not None and current.version != version:
            self.model.check_not_serving(color, f"replaced {current.version} by {version}")
            self.model.check_window_kept(color, f"replaced {current.version} by {version}")
        STATS["provisionings checked"] += 1
        if (color, version) in self.model.torn and version != self.model.stable_before:
            # (the stable version may always come back: an abort of a rolling update scales it
            # up again after it was scaled to zero)
            self.model.violate(f"provisioned {version} on {color} again while tearing it down")
        await self.inner.ensure(color, version, replicas)

    async def observe(self) -> dict[Color, ColorState]:
        self._maybe_fail("observe")
        return await self.inner.observe()

    async def tear_down(self, color: Color) -> None:
        self._maybe_fail("tear_down")
        current = self.model.replicas.colors.get(color)
        if current is not None:
            STATS["teardowns checked"] += 1
            self.model.check_not_serving(color, "tore it down")
            self.model.check_window_kept(color, "tore it down")
            self.model.torn.add((color, current.version))
        await self.inner.tear_down(color)

    async def close(self) -> None:
        await self.inner.close()


class OutageRouter(MemoryRouter):
    """A MemoryRouter that can also stay unreachable for a while (HAProxy killed)."""

    down = False
    error = "injected outage: cannot talk to the router"

    def _check(self) -> None:
        if self.down:
            raise RouterError(self.error)

    async def sync_endpoints(self, color: Color, endpoints: Sequence[Endpoint]) -> None:
        self._check()
        await super().sync_endpoints(color, endpoints)

    async def read_weights(self) -> dict[Color, int]:
        self._check()
        return await super().read_weights()

    async def set_weights(self, weights: Any) -> None:
        self._check()
        await super().set_weights(weights)

    async def set_header_route(self, name: str, matches: Any, color: Color) -> None:
        self._check()
        await super().set_header_route(name, matches, color)

    async def remove_header_route(self, name: str) -> None:
        self._check()
        await super().remove_header_route(name)

    async def set_preview(self, color: Color | None) -> None:
        self._check()
        await super().set_preview(color)


class FlakyStore(MemoryStateStore):
    """A store handle whose next save can fail (a full disk, a locked database)."""

    def __init__(self, state: MemoryState) -> None:
        super().__init__(state)
        self.fail_save = False

    async def save(
        self,
        name: str,
        status: RolloutStatus,
        events: Sequence[Event],
        consumed: Sequence[Intent],
    ) -> None:
        if self.fail_save:
            self.fail_save = False
            raise StoreError("injected failure of save")
        await super().save(name, status, events, consumed)


class ScriptedProvider:
    """Answers with the model's current metric mode; records a call for a run that cannot
    change the outcome (the query says which run: the step's or the background one)."""

    def __init__(self, world: ModelWorld) -> None:
        self.model = world
        self.calls = 0

    async def measure(self, source: Any) -> list[float]:
        self.calls += 1
        STATS["provider calls checked"] += 1
        background = getattr(source, "query", None) == "background"
        if (reason := provider_call_can_matter(self.model.status_before, background)) is not None:
            self.model.violate(reason)
        values = METRIC_MODES[self.model.metric_mode]
        if values is None:
            raise MetricsError("injected provider failure")
        return list(values)
