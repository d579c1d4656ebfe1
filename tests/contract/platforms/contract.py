"""The Platform contract: one suite every platform passes (in-memory, process, Deployment, ...).

How to plug a platform in: subclass `PlatformContract` in a `test_<platform>.py` module and give
it a `platform_handles` fixture returning a `PlatformHandles`:
- `open()` returns a NEW platform on the SAME backing state each time (same state directory, same
  namespace, same fake world), whose workload runs fine for any version;
- `open_failing()` returns a platform (on a state of its own) whose workload cannot run;
- `settle_seconds` bounds how long the suite waits for the world to converge.
The fixture must remove everything the platforms started when the test ends (function scope).

The suite only uses the `Platform` port; it never looks inside. What it proves:
- `ensure` returns before readiness, and the color then becomes ready with the right version,
  desired count and one distinct ready endpoint per replica index;
- `ensure` with the same arguments changes nothing; scaling up and down keeps the remaining
  replicas' endpoints; a new version of a color replaces the old one;
- colors are independent; `tear_down` removes one color (and is harmless when repeated);
- a workload that cannot run makes its color report a `failure`, never readiness;
- a new platform on the same state adopts the running replicas (same endpoints);
- bad arguments raise InvalidInput naming the argument and change nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import pytest

from serinus.core.errors import InvalidInput
from serinus.core.ports import Platform
from serinus.core.status import Color, ColorState

POLL_SECONDS = 0.05

State = dict[Color, ColorState]


class PlatformHandles(Protocol):
    settle_seconds: float

    def open(self) -> Platform:
        """A new platform on the backing state every platform of this test shares."""

    def open_failing(self) -> Platform:
        """A platform whose workload's replicas cannot run (a command that exits at once)."""


async def eventually(
    platform: Platform, condition: Callable[[State], bool], within: float, what: str
) -> State:
    """Observe until `condition` holds; fail naming `what` and the last observation."""
    deadline = time.monotonic() + within
    while True:
        state = await platform.observe()
        if condition(state):
            return state
        if time.monotonic() >= deadline:
            pytest.fail(f"not {what} within {within} s; last observed: {state!r}")
        await asyncio.sleep(POLL_SECONDS)


def ready(color: Color, version: str, replicas: int) -> Callable[[State], bool]:
    def check(state: State) -> bool:
        seen = state.get(color)
        return (
            seen is not None
            and seen.version == version
            and seen.desired == replicas
            and seen.ready == replicas
            and len(seen.endpoints) == replicas
            and all(e.ready for e in seen.endpoints)
        )

    return check


def absent(color: Color) -> Callable[[State], bool]:
    return lambda state: color not in state or not state[color].exists


def endpoint_addresses(state: ColorState) -> dict[int, tuple[str, int]]:
    return {e.replica: (e.host, e.port) for e in state.endpoints}


class PlatformContract:
    @pytest.fixture
    def platform_handles(self) -> PlatformHandles:
        raise NotImplementedError("subclasses provide the platform_handles fixture")

    async def ready_color(
        self, handles: PlatformHandles, platform: Platform, color: Color, version: str, n: int
    ) -> ColorState:
        await platform.ensure(color, version, n)
        state = await eventually(
            platform, ready(color, version, n), handles.settle_seconds, f"{color} {version} ready"
        )
        return state[color]

    async def test_ensure_returns_before_ready_then_becomes_ready(
        self, platform_handles: PlatformHandles
    ) -> None:
        platform = platform_handles.open()
        await platform.ensure("blue", "v1", 2)
        first = (await platform.observe())["blue"]
        assert (first.version, first.desired) == ("v1", 2)
        assert first.failure is None

        blue = await self.ready_color(platform_handles, platform, "blue", "v1", 2)
        assert sorted(e.replica for e in blue.endpoints) == [0, 1]
        assert len({(e.host, e.port) for e in blue.endpoints}) == 2
        assert blue.failure is None
        assert blue.exists

    async def test_ensure_again_with_the_same_arguments_changes_nothing(
        self, platform_handles: PlatformHandles
    ) -> None:
        platform = platform_handles.open()
        before = await self.ready_color(platform_handles, platform, "blue", "v1", 2)
        await platform.ensure("blue", "v1", 2)
        await platform.ensure("blue", "v1", 2)
        after = (await platform.observe())["blue"]
        assert after == before

    async def test_scale_up_keeps_the_running_replicas(
        self, platform_handles: PlatformHandles
    ) -> None:
        platform = platform_handles.open()
        one = await self.ready_color(platform_handles, platform, "blue", "v1", 1)
        three = await self.ready_color(platform_handles, platform, "blue", "v1", 3)
        assert endpoint_addresses(three)[0] == endpoint_addresses(one)[0]
        assert len(set(endpoint_addresses(three).values())) == 3

    async def test_scale_down_keeps_the_lowest_replicas(
        self, platform_handles: PlatformHandles
    ) -> None:
        platform = platform_handles.open()
        three = await self.ready_color(platform_handles, platform, "blue", "v1", 3)
        one = await self.ready_color(platform_handles, platform, "blue", "v1", 1)
        assert endpoint_addresses(one) == {0: endpoint_addresses(three)[0]}

    async def test_scale_to_zero_keeps_the_version_without_replicas(
        self, platform_handles: PlatformHandles
    ) -> None:
        platform = platform_handles.open()
        await self.ready_color(platform_handles, platform, "blue", "v1", 2)
        await platform.ensure("blue", "v1", 0)
        state = await eventually(
            platform,
            lambda s: not s["blue"].endpoints,
            platform_handles.settle_seconds,
            "blue scaled to zero",
        )
        assert (state["blue"].version, state["blue"].desired, state["blue"].ready) == ("v1", 0, 0)
        assert not state["blue"].exists

    async def test_a_new_version_replaces_the_old_one(
        self, platform_handles: PlatformHandles
    ) -> None:
        platform = platform_handles.open()
        await self.ready_color(platform_handles, platform, "blue", "v1", 2)
        await platform.ensure("blue", "v2", 2)
        first = (await platform.observe())["blue"]
        assert (first.version, first.desired) == ("v2", 2)
        await self.ready_color(platform_handles, platform, "blue", "v2", 2)

    async def test_colors_are_independent_and_tear_down_removes_one(
        self, platform_handles: PlatformHandles
    ) -> None:
        platform = platform_handles.open()
        blue = await self.ready_color(platform_handles, platform, "blue", "v1", 1)
        green = await self.ready_color(platform_handles, platform, "green", "v2", 2)
        both = await platform.observe()
        assert both["blue"] == blue
        assert not set(endpoint_addresses(blue).values()) & set(endpoint_addresses(green).values())

        await platform.tear_down("green")
        state = await eventually(
            platform, absent("green"), platform_handles.settle_seconds, "green torn down"
        )
        assert state["blue"] == blue
        await platform.tear_down("green")  # again: nothing to do, no error
        assert absent("green")(await platform.observe())

    async def test_a_workload_that_cannot_run_reports_a_failure(
        self, platform_handles: PlatformHandles
    ) -> None:
        platform = platform_handles.open_failing()
        await platform.ensure("green", "v9", 1)
        state = await eventually(
            platform,
            lambda s: bool(s["green"].failure),
            platform_handles.settle_seconds,
            "green failing",
        )
        assert state["green"].ready == 0
        assert state["green"].version == "v9"

    async def test_a_new_platform_on_the_same_state_adopts_the_replicas(
        self, platform_handles: PlatformHandles
    ) -> None:
        first = platform_handles.open()
        blue = await self.ready_color(platform_handles, first, "blue", "v1", 2)
        await first.close()

        second = platform_handles.open()
        adopted = await eventually(
            second, ready("blue", "v1", 2), platform_handles.settle_seconds, "blue adopted"
        )
        assert endpoint_addresses(adopted["blue"]) == endpoint_addresses(blue)
        await second.ensure("blue", "v1", 2)
        assert endpoint_addresses((await second.observe())["blue"]) == endpoint_addresses(blue)
        await second.close()

    @pytest.mark.parametrize(
        ("color", "version", "replicas", "named"),
        [
            ("red", "v1", 1, "color"),
            ("blue", "", 1, "version"),
            ("blue", "v2", -1, "replicas"),
            ("blue", "v2", 100_000, "replicas"),
        ],
    )
    async def test_bad_arguments_are_rejected_and_change_nothing(
        self,
        platform_handles: PlatformHandles,
        color: Color,
        version: str,
        replicas: int,
        named: str,
    ) -> None:
        platform = platform_handles.open()
        blue = await self.ready_color(platform_handles, platform, "blue", "v1", 1)
        with pytest.raises(InvalidInput) as raised:
            await platform.ensure(color, version, replicas)
        assert any(problem.startswith(f"{named}:") for problem in raised.value.problems)
        state = await platform.observe()
        assert state == {"blue": blue}
