"""The Istio router's pure edits: weights, header routes, mirrors, subsets (table-driven)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from serinus.adapters.routers.istio import edits
from serinus.adapters.routers.istio.edits import Layout, Target
from serinus.core.errors import NotFound, RouterError
from serinus.core.spec import HeaderMatch
from serinus.core.status import Color

HOSTS = Layout({"blue": Target("web-blue"), "green": Target("web-green")}, (), "shop")
PRIMARY = Layout(HOSTS.targets, ("primary",), "shop")
SUBSETS = Layout({"blue": Target("web", "blue"), "green": Target("web", "green")}, (), "shop")


def vs(
    *routes: dict[str, Any], api_version: str = "networking.istio.io/v1alpha3"
) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "VirtualService",
        "metadata": {"name": "web", "resourceVersion": "7"},
        "spec": {"hosts": ["web"], "http": list(routes)},
    }


def dest(host: str, weight: int | None = None, subset: str | None = None) -> dict[str, Any]:
    destination: dict[str, Any] = {"host": host}
    if subset:
        destination["subset"] = subset
    entry: dict[str, Any] = {"destination": destination}
    if weight is not None:
        entry["weight"] = weight
    return entry


@pytest.mark.parametrize(
    ("route", "layout", "expected"),
    [
        ([dest("web-blue", 100), dest("web-green", 0)], HOSTS, {"blue": 100, "green": 0}),
        ([dest("web-blue", 90), dest("web-green", 10)], HOSTS, {"blue": 90, "green": 10}),
        ([dest("web-green")], HOSTS, {"blue": 0, "green": 100}),  # a lone destination: 100
        (
            [dest("web-blue.shop.svc.cluster.local", 30), dest("web-green.shop", 70)],
            HOSTS,
            {"blue": 30, "green": 70},
        ),
        ([dest("web", 25, "blue"), dest("web", 75, "green")], SUBSETS, {"blue": 25, "green": 75}),
        ([dest("web-blue", 1), dest("web-green", 1)], HOSTS, {"blue": 50, "green": 50}),
    ],
    ids=["all-blue", "split", "lone", "fqdn", "subsets", "not-percent"],
)
def test_read_weights(route: list[Any], layout: Layout, expected: dict[Color, int]) -> None:
    assert edits.read_weights(vs({"route": route}), layout) == [expected]


@pytest.mark.parametrize(
    ("route", "weights", "expected"),
    [
        (
            [dest("web-blue", 100)],
            {"blue": 90, "green": 10},
            [dest("web-blue", 90), dest("web-green", 10)],
        ),
        ([dest("web-blue", 100)], {"blue": 100, "green": 0}, [dest("web-blue", 100)]),
        (
            [dest("web-green", 10), dest("web-blue", 90)],
            {"blue": 0, "green": 100},
            [dest("web-green", 100), dest("web-blue", 0)],
        ),
        ([dest("web-blue")], {"blue": 100, "green": 0}, [dest("web-blue", 100)]),
    ],
    ids=["append-green", "nothing-to-add", "keep-order-and-zero", "explicit-weight"],
)
def test_with_weights(route: list[Any], weights: dict[Color, int], expected: list[Any]) -> None:
    before = vs({"name": "primary", "route": route})
    original = copy.deepcopy(before)
    after = edits.with_weights(before, HOSTS, weights)
    assert after["spec"]["http"][0]["route"] == expected
    assert after["apiVersion"] == "networking.istio.io/v1"
    assert before == original, "the input must not be modified"


def test_only_the_named_routes_change_and_everything_else_is_kept() -> None:
    other = {"name": "reports", "match": [{"uri": {"prefix": "/r"}}], "route": [dest("reports")]}
    primary = {
        "name": "primary",
        "retries": {"attempts": 3},
        "route": [{**dest("web-blue", 100), "headers": {"request": {"set": {"x": "1"}}}}],
    }
    before = vs(other, primary)
    before["spec"]["gateways"] = ["gw"]
    after = edits.with_weights(before, PRIMARY, {"blue": 60, "green": 40})
    assert after["spec"]["http"][0] == other
    assert after["spec"]["gateways"] == ["gw"]
    written = after["spec"]["http"][1]
    assert written["retries"] == {"attempts": 3}
    assert written["route"][0]["headers"] == {"request": {"set": {"x": "1"}}}
    assert [d["weight"] for d in written["route"]] == [60, 40]


def test_the_new_destination_reuses_the_other_colors_port() -> None:
    route = [{"destination": {"host": "web-blue", "port": {"number": 8080}}, "weight": 100}]
    after = edits.with_weights(vs({"route": route}), HOSTS, {"blue": 50, "green": 50})
    assert after["spec"]["http"][0]["route"][1]["destination"]["port"] == {"number": 8080}


@pytest.mark.parametrize(
    ("routes", "layout", "error", "message"),
    [
        (
            [{"name": "a", "route": [dest("web-blue")]}],
            PRIMARY,
            NotFound,
            "no HTTP route named 'primary'",
        ),
        (
            [{"route": [dest("web-blue", 50), dest("legacy", 50)]}],
            HOSTS,
            RouterError,
            "neither color",
        ),
        (
            [{"route": [dest("web-blue", 50), dest("web-blue", 50)]}],
            HOSTS,
            RouterError,
            "two destinations",
        ),
        ([{"redirect": {"uri": "/x"}}], HOSTS, RouterError, "no destinations"),
        ([], HOSTS, RouterError, "no HTTP route"),
    ],
    ids=["route-not-found", "foreign-destination", "color-twice", "redirect", "no-routes"],
)
def test_routes_serinus_cannot_manage_are_refused(
    routes: list[Any], layout: Layout, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        edits.with_weights(vs(*routes), layout, {"blue": 50, "green": 50})


TESTERS = [HeaderMatch.model_validate({"headerName": "X-Canary", "headerValue": {"exact": "1"}})]


def test_a_header_route_goes_before_the_managed_routes_and_keeps_their_conditions() -> None:
    other = {"name": "reports", "match": [{"uri": {"prefix": "/r"}}], "route": [dest("reports")]}
    primary = {
        "name": "primary",
        "match": [{"uri": {"prefix": "/shop"}}],
        "rewrite": {"uri": "/"},
        "route": [dest("web-blue", 100)],
    }
    after = edits.with_header_route(vs(other, primary), PRIMARY, "testers", TESTERS, "green")
    http = after["spec"]["http"]
    assert [r.get("name") for r in http] == ["reports", "serinus-testers", "primary"]
    header = http[1]
    assert header["match"] == [
        {"uri": {"prefix": "/shop"}, "headers": {"x-canary": {"exact": "1"}}}
    ]
    assert header["route"] == [dest("web-green", 100)]
    assert header["rewrite"] == {"uri": "/"}


def test_setting_a_header_route_again_replaces_it_in_place_and_removing_it_restores() -> None:
    before = vs({"name": "primary", "route": [dest("web-blue", 100)]})
    once = edits.with_header_route(before, HOSTS, "testers", TESTERS, "green")
    twice = edits.with_header_route(once, HOSTS, "testers", TESTERS, "blue")
    assert [r.get("name") for r in twice["spec"]["http"]] == ["serinus-testers", "primary"]
    assert twice["spec"]["http"][0]["route"] == [dest("web-blue", 100)]
    assert edits.header_route_names(twice) == ["testers"]
    removed = edits.without_header_route(twice, "testers")
    assert (
        removed["spec"]["http"]
        == edits.with_weights(before, HOSTS, {"blue": 100, "green": 0})["spec"]["http"]
    )
    # weights ignore header routes
    assert edits.read_weights(twice, HOSTS) == [{"blue": 100, "green": 0}]


@pytest.mark.parametrize(
    ("color", "percentage", "expected"),
    [
        ("green", 20, {"mirror": {"host": "web-green"}, "mirrorPercentage": {"value": 20.0}}),
        (None, 0, {}),
    ],
)
def test_mirror(color: Color | None, percentage: float, expected: dict[str, Any]) -> None:
    route = {"route": [dest("web-blue", 100)], "mirror": {"host": "old"}, "mirrorPercent": 5}
    after = edits.with_mirror(vs(route), HOSTS, color, percentage)
    written = after["spec"]["http"][0]
    assert {k: v for k, v in written.items() if k.startswith("mirror")} == expected


def test_without_color_refuses_while_the_color_has_traffic_and_drops_references_after() -> None:
    route = {
        "route": [dest("web", 100, "blue"), dest("web", 0, "green")],
        "mirror": {"host": "web", "subset": "green"},
    }
    header = {"name": "serinus-t", "route": [dest("web", 100, "green")]}
    before = vs(header, route)
    with pytest.raises(RouterError, match="still sends 100% to blue"):
        edits.without_color(before, SUBSETS, "blue")
    after = edits.without_color(before, SUBSETS, "green")
    assert after["spec"]["http"] == [{"route": [dest("web", 100, "blue")]}]
    assert edits.referenced_subsets(after, "web", "shop") == {"blue"}


def dr(*subsets: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "DestinationRule",
        "metadata": {"name": "web"},
        "spec": {"host": "web", "subsets": [{"name": s, "labels": {"v": s}} for s in subsets]},
    }


def test_subsets_are_added_once_and_removed() -> None:
    added = edits.with_subset(dr("stable"), "green", "serinus.io/color", "green")
    assert added is not None
    assert added["spec"]["subsets"][-1] == {
        "name": "green",
        "labels": {"serinus.io/color": "green"},
    }
    assert edits.with_subset(added, "green", "serinus.io/color", "green") is None
    removed = edits.without_subset(added, "green")
    assert removed is not None and edits.subset_names(removed) == ["stable"]
    assert edits.without_subset(removed, "green") is None


def test_a_missing_subset_is_named() -> None:
    with pytest.raises(RouterError, match=r"no subset 'green' \(its subsets: blue\)"):
        edits.require_subsets(dr("blue"), ["blue", "green"])


def test_an_unknown_api_version_is_refused() -> None:
    with pytest.raises(RouterError, match="apiVersion"):
        edits.with_weights(
            vs({"route": [dest("web-blue")]}, api_version="v9"), HOSTS, {"blue": 100, "green": 0}
        )
