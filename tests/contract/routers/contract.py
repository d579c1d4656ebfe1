"""The TrafficRouter contract: what every router (memory, HAProxy, Istio, Gateway API, NGINX...)
must do, written once against a small, implementation-neutral harness.

How to plug a router in (see test_memory.py and test_haproxy.py):

1. Write a harness class satisfying `RouterHarness` for your router:
   - `router`: the router under test, already `prepare()`d, with both colors' endpoints synced
     (the first two of `endpoints(color)`, all ready) and weights `{"blue": 100, "green": 0}`;
     if your router needs header routes declared up front (HAProxy does), declare
     `CONTRACT_HEADER_ROUTES`;
   - `endpoints(color)`: at least three ready endpoints per color the router may be synced to;
   - `start_recording()` / `recorded_capacity()`: how much traffic capacity each color has,
     first as of `start_recording()`, then after every single write the router performs
     (any unit: percentages for a fake, summed server weights for HAProxy, route weights for an
     Istio VirtualService; one atomic write = one entry). This is how raise-before-lower and
     "no write when nothing changes" are observed;
   - `destination(headers)`: the color that serves one request carrying `headers` on the main
     route (the contract only asks when one color has 100% or a header route applies): send a
     real request, or evaluate the object the router wrote;
   - `preview_destination()`: the color the preview route serves, None when it has none;
     `has_preview` False for routers without a preview route (those tests are skipped).
2. In `tests/contract/routers/test_<router>.py`, subclass `TrafficRouterContract` as
   `Test<Router>Contract` and give it a `harness` fixture (async is fine) that yields your
   harness and cleans up whatever it started.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, Protocol

import pytest

from serinus.core.errors import InvalidInput, RouterError
from serinus.core.ports import TrafficRouter
from serinus.core.spec import SetHeaderRoute
from serinus.core.status import Color, Endpoint

TESTERS = [{"headerName": "X-Canary", "headerValue": {"exact": "always"}}]
BETA = [{"headerName": "X-Channel", "headerValue": {"prefix": "beta"}}]
QA = [
    {"headerName": "X-Team", "headerValue": {"exact": "qa"}},
    {"headerName": "X-User", "headerValue": {"regex": "tester-[0-9]+"}},
]
CONTRACT_HEADER_ROUTES = tuple(
    SetHeaderRoute.model_validate({"name": name, "match": matches})
    for name, matches in (("testers", TESTERS), ("beta", BETA), ("qa", QA))
)


class RouterHarness(Protocol):
    has_preview: bool

    @property
    def router(self) -> TrafficRouter: ...

    def endpoints(self, color: Color) -> list[Endpoint]: ...

    async def start_recording(self) -> None: ...

    async def recorded_capacity(self) -> list[dict[Color, int]]: ...

    async def destination(self, headers: Mapping[str, str]) -> Color: ...

    async def preview_destination(self) -> Color | None: ...


def assert_raise_before_lower(snapshots: list[dict[Color, int]]) -> None:
    """No state without capacity; once any color lost capacity, none gains any more."""
    for index, snapshot in enumerate(snapshots):
        assert sum(snapshot.values()) > 0, f"write {index} left no capacity: {snapshots}"
    lowered = False
    for before, after in itertools.pairwise(snapshots):
        # One atomic write may raise one color and lower another: no state lies between them.
        for color, value in after.items():
            if value > before.get(color, 0):
                assert not lowered, f"{color} was raised after a lowering: {snapshots}"
        lowered = lowered or any(v < before.get(c, 0) for c, v in after.items())


WEIGHT_CASES = [
    {"blue": 100, "green": 0},
    {"blue": 90, "green": 10},
    {"blue": 50, "green": 50},
    {"blue": 33, "green": 67},
    {"blue": 1, "green": 99},
    {"blue": 0, "green": 100},
]
INVALID_WEIGHTS: list[dict[Any, Any]] = [
    {"blue": 50, "green": 49},
    {"blue": 101, "green": -1},
    {"blue": 50, "green": 50, "red": 0},
    {"blue": 50.0, "green": 50},
    {"blue": True, "green": 99},
    {"blue": "50", "green": "50"},
]


class TrafficRouterContract:
    """Every TrafficRouter passes these. Subclasses provide the `harness` fixture."""

    # --- weights -----------------------------------------------------------------------------

    @pytest.mark.parametrize("weights", WEIGHT_CASES, ids=lambda w: f"{w['blue']}-{w['green']}")
    async def test_weights_read_back_equal_weights_set(
        self, harness: RouterHarness, weights: dict[Color, int]
    ) -> None:
        await harness.router.set_weights(weights)
        assert await harness.router.read_weights() == weights

    async def test_read_weights_are_integers_summing_to_100(self, harness: RouterHarness) -> None:
        await harness.router.set_weights({"blue": 37, "green": 63})
        observed = await harness.router.read_weights()
        assert sum(observed.values()) == 100
        assert all(type(value) is int for value in observed.values())

    async def test_a_missing_color_counts_as_zero(self, harness: RouterHarness) -> None:
        await harness.router.set_weights({"blue": 50, "green": 50})
        await harness.router.set_weights({"green": 100})
        assert await harness.router.read_weights() == {"blue": 0, "green": 100}

    async def test_setting_the_same_weights_twice_writes_nothing(
        self, harness: RouterHarness
    ) -> None:
        await harness.router.set_weights({"blue": 80, "green": 20})
        await harness.start_recording()
        await harness.router.set_weights({"blue": 80, "green": 20})
        assert len(await harness.recorded_capacity()) == 1
        assert await harness.router.read_weights() == {"blue": 80, "green": 20}

    @pytest.mark.parametrize(
        "path",
        [
            [{"blue": 10, "green": 90}, {"blue": 100, "green": 0}],
            [{"blue": 50, "green": 50}, {"blue": 0, "green": 100}, {"blue": 60, "green": 40}],
        ],
        ids=["there-and-back", "three-steps"],
    )
    async def test_weights_are_raised_before_they_are_lowered(
        self, harness: RouterHarness, path: list[dict[Color, int]]
    ) -> None:
        for weights in path:
            await harness.start_recording()
            await harness.router.set_weights(weights)
            snapshots = await harness.recorded_capacity()
            assert len(snapshots) >= 2, "changing the weights must write something"
            assert_raise_before_lower(snapshots)

    @pytest.mark.parametrize("weights", INVALID_WEIGHTS, ids=repr)
    async def test_invalid_weights_raise_and_change_nothing(
        self, harness: RouterHarness, weights: dict[Any, Any]
    ) -> None:
        await harness.router.set_weights({"blue": 70, "green": 30})
        await harness.start_recording()
        with pytest.raises((InvalidInput, ValueError)):
            await harness.router.set_weights(weights)
        assert len(await harness.recorded_capacity()) == 1
        assert await harness.router.read_weights() == {"blue": 70, "green": 30}

    async def test_weights_hold_when_a_colors_replicas_change(self, harness: RouterHarness) -> None:
        await harness.router.set_weights({"blue": 20, "green": 80})
        await harness.router.sync_endpoints("green", harness.endpoints("green")[:3])
        assert await harness.router.read_weights() == {"blue": 20, "green": 80}
        await harness.router.sync_endpoints("green", harness.endpoints("green")[2:3])
        assert await harness.router.read_weights() == {"blue": 20, "green": 80}

    # --- readiness: no weight on a color with nothing ready -----------------------------------

    async def test_a_weight_on_a_color_without_ready_endpoints_is_refused_and_changes_nothing(
        self, harness: RouterHarness
    ) -> None:
        unready = [e.model_copy(update={"ready": False}) for e in harness.endpoints("green")[:2]]
        await harness.router.sync_endpoints("green", unready)
        await harness.start_recording()
        with pytest.raises(RouterError, match="green"):
            await harness.router.set_weights({"blue": 90, "green": 10})
        assert len(await harness.recorded_capacity()) == 1
        assert await harness.router.read_weights() == {"blue": 100, "green": 0}

    async def test_a_torn_down_color_has_no_endpoints(self, harness: RouterHarness) -> None:
        await harness.router.set_weights({"blue": 50, "green": 50})
        await harness.router.set_weights({"blue": 100, "green": 0})
        await harness.router.sync_endpoints("green", [])
        await harness.start_recording()
        with pytest.raises(RouterError, match="green"):
            await harness.router.set_weights({"blue": 0, "green": 100})
        assert len(await harness.recorded_capacity()) == 1
        assert await harness.router.read_weights() == {"blue": 100, "green": 0}
        await harness.router.set_weights({"blue": 100, "green": 0})  # no weight there: fine

    async def test_a_color_is_routable_again_once_it_reports_a_ready_endpoint(
        self, harness: RouterHarness
    ) -> None:
        await harness.router.sync_endpoints("green", [])
        with pytest.raises(RouterError):
            await harness.router.set_weights({"blue": 90, "green": 10})
        await harness.router.sync_endpoints("green", harness.endpoints("green")[2:3])
        await harness.router.set_weights({"blue": 90, "green": 10})
        assert await harness.router.read_weights() == {"blue": 90, "green": 10}

    # --- header routes -----------------------------------------------------------------------

    async def test_a_header_route_sends_matching_requests_to_its_color(
        self, harness: RouterHarness
    ) -> None:
        await harness.router.set_header_route("testers", TESTERS, "green")
        assert await harness.destination({"X-Canary": "always"}) == "green"
        assert await harness.destination({"X-Canary": "always-not"}) == "blue"
        assert await harness.destination({}) == "blue"

    async def test_prefix_match(self, harness: RouterHarness) -> None:
        await harness.router.set_header_route("beta", BETA, "green")
        assert await harness.destination({"X-Channel": "beta-2"}) == "green"
        assert await harness.destination({"X-Channel": "alpha-beta"}) == "blue"

    async def test_all_matches_must_hold_and_a_regex_matches_the_whole_value(
        self, harness: RouterHarness
    ) -> None:
        await harness.router.set_header_route("qa", QA, "green")
        assert await harness.destination({"X-Team": "qa", "X-User": "tester-12"}) == "green"
        assert await harness.destination({"X-Team": "qa", "X-User": "tester-12x"}) == "blue"
        assert await harness.destination({"X-Team": "dev", "X-User": "tester-12"}) == "blue"
        assert await harness.destination({"X-User": "tester-12"}) == "blue"

    async def test_a_header_route_can_point_at_either_color(self, harness: RouterHarness) -> None:
        await harness.router.set_weights({"blue": 0, "green": 100})
        await harness.router.set_header_route("testers", TESTERS, "blue")
        assert await harness.destination({"X-Canary": "always"}) == "blue"
        assert await harness.destination({}) == "green"
        await harness.router.set_header_route("testers", TESTERS, "green")
        assert await harness.destination({"X-Canary": "always"}) == "green"

    async def test_removing_a_header_route_is_idempotent(self, harness: RouterHarness) -> None:
        await harness.router.set_header_route("testers", TESTERS, "green")
        await harness.router.remove_header_route("testers")
        assert await harness.destination({"X-Canary": "always"}) == "blue"
        await harness.router.remove_header_route("testers")
        await harness.router.remove_header_route("never-set")
        assert await harness.destination({"X-Canary": "always"}) == "blue"

    @pytest.mark.parametrize(
        ("matches", "color"),
        [
            ([{"headerName": "X-Canary"}], "green"),
            ([], "green"),
            ([{"headerName": "X-Canary", "headerValue": {}}], "green"),
            (TESTERS, "red"),
        ],
        ids=["no-value", "no-match", "empty-value", "unknown-color"],
    )
    async def test_invalid_header_routes_raise_and_change_nothing(
        self, harness: RouterHarness, matches: list[dict[str, Any]], color: Any
    ) -> None:
        with pytest.raises(InvalidInput):
            await harness.router.set_header_route("testers", matches, color)
        assert await harness.destination({"X-Canary": "always"}) == "blue"

    # --- preview -----------------------------------------------------------------------------

    async def test_preview_follows_the_chosen_color(self, harness: RouterHarness) -> None:
        if not harness.has_preview:
            pytest.skip("this router has no preview route")
        assert await harness.preview_destination() is None
        await harness.router.set_preview("green")
        assert await harness.preview_destination() == "green"
        await harness.router.set_preview("blue")
        assert await harness.preview_destination() == "blue"
        await harness.router.set_preview(None)
        assert await harness.preview_destination() is None

    async def test_invalid_preview_color_raises(self, harness: RouterHarness) -> None:
        with pytest.raises(InvalidInput):
            await harness.router.set_preview("red")  # type: ignore[arg-type]

    # --- lifecycle ---------------------------------------------------------------------------

    async def test_prepare_again_keeps_everything(self, harness: RouterHarness) -> None:
        await harness.router.set_weights({"blue": 30, "green": 70})
        await harness.router.set_header_route("testers", TESTERS, "green")
        await harness.router.prepare()
        assert await harness.router.read_weights() == {"blue": 30, "green": 70}
        assert await harness.destination({"X-Canary": "always"}) == "green"

    async def test_close_does_not_stop_the_traffic(self, harness: RouterHarness) -> None:
        await harness.router.set_header_route("testers", TESTERS, "green")
        await harness.router.close()
        assert await harness.destination({"X-Canary": "always"}) == "green"
        assert await harness.destination({}) == "blue"
