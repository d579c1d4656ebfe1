"""Shifting an Istio VirtualService: weights rebalanced, everything else as it was."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from serinus.core.errors import InvalidInput, NotFound
from serinus.core.virtualservice import (
    InvalidShift,
    ShiftTarget,
    TrafficShift,
    UnknownRoute,
    http_route_names,
    is_virtual_service,
    shift_documents,
    shift_virtual_service,
)

DATA = Path(__file__).parent / "data"


def virtual_service(*routes: list[dict[str, Any]], api: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": f"networking.istio.io/{api}",
        "kind": "VirtualService",
        "metadata": {"name": "reviews"},
        "spec": {
            "hosts": ["reviews"],
            "http": [{"name": f"r{i}", "route": route} for i, route in enumerate(routes)],
        },
    }


def dest(host: str, subset: str | None = None, weight: int | None = None) -> dict[str, Any]:
    destination: dict[str, Any] = {"host": host}
    if subset is not None:
        destination["subset"] = subset
    entry: dict[str, Any] = {"destination": destination}
    if weight is not None:
        entry["weight"] = weight
    return entry


def weights_of(document: dict[str, Any], rule: int = 0) -> list[tuple[str, str | None, int]]:
    return [
        (e["destination"]["host"], e["destination"].get("subset"), e["weight"])
        for e in document["spec"]["http"][rule]["route"]
    ]


def run(
    document: dict[str, Any],
    host: str,
    percentage: int,
    subset: str | None = None,
    route: str | None = None,
) -> dict[str, Any]:
    return shift_virtual_service(
        document, TrafficShift(ShiftTarget(host, subset), percentage, route)
    )


def test_shifts_an_existing_subset_and_leaves_the_input_alone() -> None:
    document = virtual_service([dest("reviews", "v1", 90), dest("reviews", "v2", 10)])
    before = copy.deepcopy(document)
    result = run(document, "reviews", 50, subset="v2")
    assert weights_of(result) == [("reviews", "v1", 50), ("reviews", "v2", 50)]
    assert document == before


def test_appends_a_missing_target_with_its_subset() -> None:
    result = run(virtual_service([dest("reviews", "v1", 100)]), "reviews", 10, subset="v2")
    assert weights_of(result) == [("reviews", "v1", 90), ("reviews", "v2", 10)]
    assert result["spec"]["http"][0]["route"][1] == {
        "destination": {"host": "reviews", "subset": "v2"},
        "weight": 10,
    }


def test_appends_a_missing_host_without_subset() -> None:
    result = run(virtual_service([dest("old-server", weight=100)]), "new-server", 10)
    assert result["spec"]["http"][0]["route"] == [
        {"destination": {"host": "old-server"}, "weight": 90},
        {"destination": {"host": "new-server"}, "weight": 10},
    ]


def test_removes_the_target_at_zero_and_keeps_an_explicit_100() -> None:
    document = virtual_service([dest("old", weight=90), dest("new", weight=10)])
    result = run(document, "new", 0)
    assert result["spec"]["http"][0]["route"] == [{"destination": {"host": "old"}, "weight": 100}]


def test_zero_for_a_missing_target_changes_nothing_but_makes_weights_explicit() -> None:
    result = run(virtual_service([dest("old")]), "new", 0)
    assert result["spec"]["http"][0]["route"] == [{"destination": {"host": "old"}, "weight": 100}]


def test_a_lone_destination_without_weight_counts_as_100() -> None:
    result = run(virtual_service([dest("old")]), "new", 25)
    assert weights_of(result) == [("old", None, 75), ("new", None, 25)]


def test_absent_weights_beside_others_count_as_zero() -> None:
    document = virtual_service([dest("a", weight=100), dest("b"), dest("c", weight=0)])
    assert weights_of(run(document, "c", 40)) == [("a", None, 60), ("b", None, 0), ("c", None, 40)]


def test_full_shift_keeps_the_others_at_weight_zero() -> None:
    document = virtual_service([dest("a", weight=60), dest("b", weight=30), dest("c", weight=10)])
    assert weights_of(run(document, "c", 100)) == [("a", None, 0), ("b", None, 0), ("c", None, 100)]


def test_the_only_destination_can_take_100() -> None:
    result = run(virtual_service([dest("a")]), "a", 100)
    assert result["spec"]["http"][0]["route"] == [{"destination": {"host": "a"}, "weight": 100}]


@pytest.mark.parametrize("percentage", [0, 50])
def test_the_only_destination_cannot_give_traffic_away(percentage: int) -> None:
    with pytest.raises(InvalidShift, match=r"spec\.http\[0\]\.route: a is the only") as caught:
        run(virtual_service([dest("a", weight=100)]), "a", percentage)
    assert caught.value.argument == "percentage"


@pytest.mark.parametrize("percentage", [-1, 101])
def test_percentage_out_of_range(percentage: int) -> None:
    with pytest.raises(InvalidShift, match="percentage: must be between 0 and 100") as caught:
        run(virtual_service([dest("a", weight=100)]), "b", percentage)
    assert caught.value.argument == "percentage"


def test_every_http_route_is_shifted_by_default() -> None:
    document = virtual_service(
        [dest("old", weight=100)], [dest("old", weight=50), dest("new", weight=50)]
    )
    result = run(document, "new", 20)
    assert weights_of(result, 0) == [("old", None, 80), ("new", None, 20)]
    assert weights_of(result, 1) == [("old", None, 80), ("new", None, 20)]


def test_a_named_route_is_the_only_one_shifted() -> None:
    document = virtual_service(
        [dest("old", weight=100)], [dest("old", weight=50), dest("new", weight=50)]
    )
    result = run(document, "new", 20, route="r1")
    assert result["spec"]["http"][0] == document["spec"]["http"][0]
    assert weights_of(result, 1) == [("old", None, 80), ("new", None, 20)]


def test_an_unknown_route_lists_the_available_names() -> None:
    document = virtual_service([dest("a")], [dest("a")])
    with pytest.raises(UnknownRoute, match=r"no HTTP route named 'main'; available: 'r0', 'r1'"):
        run(document, "b", 10, route="main")
    assert issubclass(UnknownRoute, NotFound)


def test_an_unknown_route_when_no_route_has_a_name() -> None:
    document = virtual_service([dest("a")])
    del document["spec"]["http"][0]["name"]
    with pytest.raises(UnknownRoute, match=r"no named HTTP routes"):
        run(document, "b", 10, route="main")


def test_ambiguous_host_without_subset_is_an_error() -> None:
    document = virtual_service([dest("reviews", "v1", 90), dest("reviews", "v2", 10)])
    with pytest.raises(InvalidShift, match=r"matches 2 destinations \(subsets 'v1', 'v2'\)") as e:
        run(document, "reviews", 50)
    assert e.value.argument == "target"


def test_a_host_without_subset_matches_a_lone_subset_of_it() -> None:
    document = virtual_service([dest("reviews", "v1", 90), dest("ratings", weight=10)])
    assert weights_of(run(document, "reviews", 30)) == [
        ("reviews", "v1", 30),
        ("ratings", None, 70),
    ]


def test_a_host_without_subset_beside_its_subsets_is_ambiguous() -> None:
    document = virtual_service([dest("reviews", weight=90), dest("reviews", "v2", 10)])
    with pytest.raises(InvalidShift, match=r"subsets '\(none\)', 'v2'"):
        run(document, "reviews", 30)


def test_duplicate_target_with_subset_is_an_error() -> None:
    document = virtual_service([dest("a", "x", 50), dest("a", "x", 50), dest("b", weight=0)])
    with pytest.raises(InvalidShift, match="remove the duplicates"):
        run(document, "a", 10, subset="x")


@pytest.mark.parametrize("api", ["v1", "v1beta1", "v1alpha3"])
def test_supported_api_versions(api: str) -> None:
    result = run(virtual_service([dest("a")], api=api), "b", 10)
    assert result["apiVersion"] == f"networking.istio.io/{api}"


@pytest.mark.parametrize("api_version", ["networking.istio.io/v2", "v1", None])
def test_other_api_versions_are_refused(api_version: str | None) -> None:
    document = virtual_service([dest("a")])
    document["apiVersion"] = api_version
    with pytest.raises(InvalidInput, match=r"apiVersion: .* is not supported"):
        run(document, "b", 10)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"destination": {"host": "a"}, "weight": -5}, r"route\[1\]\.weight: expected a non-neg"),
        ({"destination": {"host": "a"}, "weight": "50"}, r"route\[1\]\.weight"),
        ({"destination": {"host": "a"}, "weight": True}, r"route\[1\]\.weight"),
        ({"destination": {"host": "a"}, "weight": 12.5}, r"route\[1\]\.weight"),
        ({"destination": {"host": ""}}, r"route\[1\]\.destination\.host"),
        ({"destination": {"host": "a", "subset": 3}}, r"route\[1\]\.destination\.subset"),
        ({"weight": 10}, r"route\[1\]\.destination: required"),
    ],
)
def test_bad_destinations_are_named_by_path(entry: dict[str, Any], problem: str) -> None:
    document = virtual_service([dest("z", weight=50), entry])
    with pytest.raises(InvalidInput, match=r"spec\.http\[0\]\." + problem):
        run(document, "b", 10)


def test_an_empty_route_list_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"spec\.http\[0\]\.route: expected a non-empty"):
        run(virtual_service([]), "b", 10)


def test_no_http_route_with_destinations_is_refused() -> None:
    document = virtual_service()
    document["spec"]["tcp"] = [{"route": [dest("a", weight=100)]}]
    with pytest.raises(InvalidInput, match="no HTTP route with destinations"):
        run(document, "a", 10)


def test_a_named_route_without_destinations_is_refused() -> None:
    document = virtual_service([dest("a")])
    document["spec"]["http"].append({"name": "moved", "redirect": {"uri": "/new"}})
    with pytest.raises(InvalidShift, match=r"spec\.http\[1\] \(moved\): has no route") as caught:
        run(document, "b", 10, route="moved")
    assert caught.value.argument == "route"


def load_rich() -> dict[str, Any]:
    document = yaml.safe_load((DATA / "virtualservice-rich.yaml").read_text())
    assert isinstance(document, dict)
    return document


def test_everything_but_http_route_weights_is_untouched_and_in_order() -> None:
    document = load_rich()
    result = run(document, "ratings", 40, subset="v2", route="primary")
    # the weights changed as asked
    assert weights_of(result, 2) == [
        ("ratings", "v1", 53),  # 52.5 and 7.5: the tie goes to the earlier destination
        ("ratings", "v2", 40),
        ("ratings-fallback.other.svc.cluster.local", None, 7),
    ]
    # with the weights put back, the document is the same, key order included
    restored = copy.deepcopy(result)
    for rule, original in zip(restored["spec"]["http"], document["spec"]["http"], strict=True):
        for entry, before in zip(rule.get("route", []), original.get("route", []), strict=True):
            if "weight" in before:
                entry["weight"] = before["weight"]
            else:
                entry.pop("weight", None)
    dump = {"sort_keys": False}
    assert yaml.safe_dump(restored, **dump) == yaml.safe_dump(document, **dump)


def test_the_rich_document_keeps_tcp_tls_and_redirect_routes_verbatim() -> None:
    document = load_rich()
    result = run(document, "ratings", 0, subset="v1")
    assert result["spec"]["tcp"] == document["spec"]["tcp"]
    assert result["spec"]["tls"] == document["spec"]["tls"]
    assert "weight" not in result["spec"]["tls"][0]["route"][0]
    assert result["spec"]["http"][1] == document["spec"]["http"][1]
    assert weights_of(result, 2) == [
        ("ratings", "v2", 67),
        ("ratings-fallback.other.svc.cluster.local", None, 33),
    ]


def test_shifting_twice_changes_nothing() -> None:
    once = run(load_rich(), "ratings", 40, subset="v2", route="primary")
    assert run(once, "ratings", 40, subset="v2", route="primary") == once
    assert run(once, "ratings", 40, subset="v2", route="primary") != run(
        once, "ratings", 41, subset="v2", route="primary"
    )


def test_all_routes_include_a_header_route_that_only_has_the_target() -> None:
    document = load_rich()
    with pytest.raises(InvalidShift, match=r"spec\.http\[0\]\.route: ratings \(subset v2\) is"):
        run(document, "ratings", 40, subset="v2")
    full = run(document, "ratings", 100, subset="v2")
    assert weights_of(full, 0) == [("ratings", "v2", 100)]  # explicit weight on the lone one
    assert weights_of(full, 2)[1] == ("ratings", "v2", 100)


# --- multi-document streams ---------------------------------------------------------------


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "reviews"}}


def test_documents_other_than_virtual_services_pass_through() -> None:
    documents = [SERVICE, virtual_service([dest("a")]), "plain scalar"]
    result = shift_documents(documents, TrafficShift(ShiftTarget("b"), 10))
    assert result[0] == SERVICE
    assert result[2] == "plain scalar"
    assert weights_of(result[1]) == [("a", None, 90), ("b", None, 10)]
    assert is_virtual_service(result[1])
    assert not is_virtual_service(SERVICE)


def test_a_stream_without_virtual_service_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no VirtualService"):
        shift_documents([SERVICE], TrafficShift(ShiftTarget("b"), 10), "vs.yaml")


def test_a_route_name_picks_the_virtual_services_that_have_it() -> None:
    first = virtual_service([dest("a")])
    second = virtual_service([dest("a")])
    second["spec"]["http"][0]["name"] = "other"
    result = shift_documents([first, second], TrafficShift(ShiftTarget("b"), 10, "r0"))
    assert weights_of(result[0]) == [("a", None, 90), ("b", None, 10)]
    assert result[1] == second
    with pytest.raises(UnknownRoute, match=r"available: 'r0', 'other'"):
        shift_documents([first, second], TrafficShift(ShiftTarget("b"), 10, "main"))


def test_an_invalid_virtual_service_in_a_stream_is_named() -> None:
    bad = virtual_service([dest("a")], api="v2")
    with pytest.raises(InvalidInput, match=r"vs\.yaml: VirtualService 'reviews' \(document 2\)"):
        shift_documents([SERVICE, bad], TrafficShift(ShiftTarget("b"), 10), "vs.yaml")


def test_route_names_skip_unnamed_routes() -> None:
    document = virtual_service([dest("a")], [dest("a")])
    del document["spec"]["http"][0]["name"]
    assert http_route_names(document) == ["r1"]


# --- properties over generated routes ---------------------------------------------------------


HOSTS = ["a", "b", "c"]
SUBSETS = [None, "v1", "v2"]


@st.composite
def routes(draw: st.DrawFn) -> list[dict[str, Any]]:
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(HOSTS), st.sampled_from(SUBSETS)),
            min_size=1,
            max_size=8,
            unique=True,
        )
    )
    return [dest(h, s, draw(st.none() | st.integers(0, 100))) for h, s in pairs]


@given(
    st.lists(routes(), min_size=1, max_size=3),
    st.sampled_from(HOSTS),
    st.sampled_from(SUBSETS),
    st.integers(0, 100),
)
def test_every_shifted_route_sums_to_100_with_the_target_at_p(
    rules: list[list[dict[str, Any]]], host: str, subset: str | None, percentage: int
) -> None:
    document = virtual_service(*rules)
    request = TrafficShift(ShiftTarget(host, subset), percentage)
    try:
        result = shift_virtual_service(document, request)
    except InvalidShift:
        return  # ambiguous target or nothing to take the rest: refused, never guessed
    for rule in result["spec"]["http"]:
        weights = [entry["weight"] for entry in rule["route"]]
        assert sum(weights) == 100
        matching = [
            entry["weight"]
            for entry in rule["route"]
            if entry["destination"]["host"] == host
            and (subset is None or entry["destination"].get("subset") == subset)
        ]
        if percentage == 0:
            assert matching == []
        else:
            assert matching == [percentage]
    assert shift_virtual_service(result, request) == result
