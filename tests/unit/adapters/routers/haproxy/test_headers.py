"""Header routes declared from setHeaderRoute steps, and runtime matches parsed the same way."""

from __future__ import annotations

import pytest

from serinus.adapters.routers.haproxy.headers import HeaderRule, declare, parse_matches
from serinus.core.errors import InvalidInput
from serinus.core.spec import SetHeaderRoute

X = {"headerName": "X-Canary", "headerValue": {"exact": "yes"}}
Y = {"headerName": "X-Beta", "headerValue": {"prefix": "b"}}


def step(name: str, *matches: dict[str, object]) -> SetHeaderRoute:
    return SetHeaderRoute.model_validate({"name": name, "match": list(matches)})


def test_each_distinct_match_list_is_one_variant_in_first_appearance_order() -> None:
    declared = declare([step("a", X), step("b", Y), step("a", X), step("a", Y), step("a")])
    assert [route.name for route in declared] == ["a", "b"]
    assert declared[0].variants == (
        (HeaderRule("X-Canary", "exact", "yes"),),
        (HeaderRule("X-Beta", "prefix", "b"),),
    )


def test_a_removal_only_route_declares_nothing() -> None:
    assert declare([step("gone")]) == ()


def test_runtime_matches_parse_to_the_declared_rules() -> None:
    assert parse_matches("a", [X]) == declare([step("a", X)])[0].variants[0]


def test_bad_matches_name_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"matches\[0\]\.headerValue"):
        parse_matches("a", [{"headerName": "X"}])


def test_a_value_that_no_header_can_hold_is_refused() -> None:
    bad = {"headerName": "X", "headerValue": {"exact": "a\nb"}}
    with pytest.raises(InvalidInput, match=r"headerValue\.exact"):
        parse_matches("a", [bad])
