"""The Gateway API router's pure edits of an HTTPRoute (table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.adapters.routers.gatewayapi import edits
from serinus.adapters.routers.gatewayapi.edits import Layout
from serinus.core.errors import NotFound, RouterError
from serinus.core.spec import HeaderMatch
from serinus.core.status import Color

LAYOUT = Layout({"blue": "web-blue", "green": "web-green"}, (), "shop")
MAIN = Layout(LAYOUT.services, ("main",), "shop")


def route(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": list(rules)},
    }


def ref(name: str, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"name": name, "port": 80, **extra}
    if weight is not None:
        result["weight"] = weight
    return result


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        ([ref("web-blue")], {"blue": 100, "green": 0}),  # weight defaults to 1
        ([ref("web-blue", 90), ref("web-green", 10)], {"blue": 90, "green": 10}),
        ([ref("web-blue", 1), ref("web-green", 1)], {"blue": 50, "green": 50}),
        ([ref("web-blue", 500000), ref("web-green", 1500000)], {"blue": 25, "green": 75}),
        ([ref("web-blue", 0), ref("web-green", 0)], {"blue": 50, "green": 50}),
    ],
)
def test_read_weights_as_percentages(refs: list[Any], expected: dict[Color, int]) -> None:
    assert edits.read_weights(route({"backendRefs": refs}), LAYOUT) == [expected]


@pytest.mark.parametrize(
    ("refs", "weights", "expected"),
    [
        ([ref("web-blue")], {"blue": 90, "green": 10}, [ref("web-blue", 90), ref("web-green", 10)]),
        ([ref("web-blue", 1)], {"blue": 100, "green": 0}, [ref("web-blue", 100)]),
        (
            [ref("web-green", 5), ref("web-blue", 95)],
            {"blue": 0, "green": 100},
            [ref("web-green", 100), ref("web-blue", 0)],
        ),
    ],
)
def test_with_weights(refs: list[Any], weights: dict[Color, int], expected: list[Any]) -> None:
    after = edits.with_weights(route({"backendRefs": refs}), LAYOUT, weights)
    assert after["spec"]["rules"][0]["backendRefs"] == expected
    assert after["apiVersion"] == "gateway.networking.k8s.io/v1"


def test_only_named_rules_change() -> None:
    other = {"name": "api", "backendRefs": [ref("api", 1)]}
    main = {
        "name": "main",
        "filters": [{"type": "RequestHeaderModifier"}],
        "backendRefs": [ref("web-blue")],
    }
    after = edits.with_weights(route(other, main), MAIN, {"blue": 70, "green": 30})
    assert after["spec"]["rules"][0] == other
    assert after["spec"]["rules"][1]["filters"] == [{"type": "RequestHeaderModifier"}]


@pytest.mark.parametrize(
    ("rules", "layout", "error", "message"),
    [
        ([{"name": "x", "backendRefs": [ref("web-blue")]}], MAIN, NotFound, "no rule named 'main'"),
        ([{"backendRefs": [ref("other")]}], LAYOUT, RouterError, "neither color"),
        (
            [{"backendRefs": [ref("web-blue", kind="ServiceImport")]}],
            LAYOUT,
            RouterError,
            "neither color",
        ),
        ([{"backendRefs": [ref("web-blue"), ref("web-blue")]}], LAYOUT, RouterError, "twice"),
        ([{"filters": []}], LAYOUT, RouterError, "no backendRefs"),
    ],
)
def test_rules_serinus_cannot_manage_are_refused(
    rules: list[Any], layout: Layout, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        edits.with_weights(route(*rules), layout, {"blue": 50, "green": 50})


def matches(*raw: dict[str, Any]) -> list[HeaderMatch]:
    return [HeaderMatch.model_validate(m) for m in raw]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"exact": "1"}, {"name": "X-Canary", "type": "Exact", "value": "1"}),
        (
            {"prefix": "be.ta"},
            {"name": "X-Canary", "type": "RegularExpression", "value": r"^be\.ta.*"},
        ),
        (
            {"regex": "t-[0-9]+"},
            {"name": "X-Canary", "type": "RegularExpression", "value": "t-[0-9]+"},
        ),
    ],
)
def test_header_rule_goes_first_and_combines_the_managed_matches(
    value: dict[str, str], expected: dict[str, str]
) -> None:
    main = {
        "name": "main",
        "matches": [
            {"path": {"type": "PathPrefix", "value": "/shop"}},
            {
                "path": {"type": "Exact", "value": "/"},
                "headers": [{"name": "x-canary", "value": "old"}],
            },
        ],
        "backendRefs": [ref("web-blue", 100)],
    }
    found = matches({"headerName": "X-Canary", "headerValue": value})
    after = edits.with_header_route(route(main), LAYOUT, "t", found, "green")
    rule = after["spec"]["rules"][0]
    assert rule["name"] == "serinus-t"
    assert rule["backendRefs"] == [ref("web-green", 100)]
    assert rule["matches"] == [
        {"path": {"type": "PathPrefix", "value": "/shop"}, "headers": [expected]},
        {"path": {"type": "Exact", "value": "/"}, "headers": [expected]},
    ]
    assert edits.header_route_names(after) == ["t"]
    assert edits.without_header_route(after, "t")["spec"]["rules"] == [main]


def test_a_rule_without_matches_gets_the_default_path_match() -> None:
    found = matches({"headerName": "X-A", "headerValue": {"exact": "1"}})
    after = edits.with_header_route(
        route({"backendRefs": [ref("web-blue")]}), LAYOUT, "t", found, "blue"
    )
    assert after["spec"]["rules"][0]["matches"] == [
        {
            "path": {"type": "PathPrefix", "value": "/"},
            "headers": [{"name": "X-A", "type": "Exact", "value": "1"}],
        }
    ]
