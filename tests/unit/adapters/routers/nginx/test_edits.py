"""The NGINX canary router's pure edits: canary Ingress, weights, role swap, header routes."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.adapters.routers.nginx import edits
from serinus.adapters.routers.nginx.edits import CanaryStep, Layout, StableStep
from serinus.core.errors import RouterError
from serinus.core.spec import HeaderMatch
from serinus.core.status import Color

LAYOUT = Layout({"blue": "web-blue", "green": "web-green"}, "web-canary")
PREFIX = "nginx.ingress.kubernetes.io/"


def path(service: str, at: str = "/") -> dict[str, Any]:
    return {
        "path": at,
        "pathType": "Prefix",
        "backend": {"service": {"name": service, "port": {"number": 80}}},
    }


def stable(service: str = "web-blue", *extra_paths: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"app": "web"},
            "annotations": {PREFIX + "ssl-redirect": "false"},
        },
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
            "rules": [
                {"host": "web.example.com", "http": {"paths": [path(service), *extra_paths]}}
            ],
        },
    }


def test_the_canary_is_a_copy_of_the_stable_ingress_pointing_at_the_other_color() -> None:
    canary = edits.canary_ingress(
        stable("web-blue", path("api", "/api")), None, LAYOUT, "green", 10
    )
    assert canary["metadata"]["name"] == "web-canary"
    assert canary["metadata"]["namespace"] == "shop"
    assert canary["metadata"]["labels"] == {"app": "web", "serinus.io/managed-by": "serinus"}
    annotations = canary["metadata"]["annotations"]
    assert annotations == {
        PREFIX + "ssl-redirect": "false",
        PREFIX + "canary": "true",
        PREFIX + "canary-weight": "10",
    }
    # only the paths to the stable color's Service are copied, retargeted
    assert canary["spec"]["rules"][0]["http"]["paths"] == [path("web-green")]
    assert canary["spec"]["tls"] == stable()["spec"]["tls"]


@pytest.mark.parametrize(
    ("canary", "expected"),
    [
        (None, {"blue": 100, "green": 0}),
        (edits.canary_ingress(stable(), None, LAYOUT, "green", 0), {"blue": 100, "green": 0}),
        (edits.canary_ingress(stable(), None, LAYOUT, "green", 35), {"blue": 65, "green": 35}),
        (edits.canary_ingress(stable(), None, LAYOUT, "green", 100), {"blue": 0, "green": 100}),
    ],
)
def test_read_weights(canary: dict[str, Any] | None, expected: dict[Color, int]) -> None:
    assert edits.read_weights(stable(), canary, LAYOUT) == expected


def test_canary_weight_total_is_honoured() -> None:
    canary = edits.canary_ingress(stable(), None, LAYOUT, "green", 30)
    canary["metadata"]["annotations"][PREFIX + "canary-weight"] = "300"
    canary["metadata"]["annotations"][PREFIX + "canary-weight-total"] = "1000"
    assert edits.read_weights(stable(), canary, LAYOUT) == {"blue": 70, "green": 30}


@pytest.mark.parametrize(
    ("primary", "weights", "plan"),
    [
        ("web-blue", {"blue": 90, "green": 10}, [CanaryStep("green", 10)]),
        ("web-blue", {"blue": 100, "green": 0}, [CanaryStep("green", 0)]),
        (
            "web-blue",
            {"blue": 0, "green": 100},
            [CanaryStep("green", 100), StableStep("green"), CanaryStep("blue", 0)],
        ),
        ("web-green", {"blue": 20, "green": 80}, [CanaryStep("blue", 20)]),
    ],
    ids=["split", "all-stable", "swap-roles", "green-primary"],
)
def test_plan_weights(primary: str, weights: dict[Color, int], plan: list[Any]) -> None:
    assert edits.plan_weights(stable(primary), weights, LAYOUT) == plan


def test_switching_the_stable_ingress_changes_only_the_color_services() -> None:
    switched = edits.with_stable_color(stable("web-blue", path("api", "/api")), LAYOUT, "green")
    paths = switched["spec"]["rules"][0]["http"]["paths"]
    assert paths == [path("web-green"), path("api", "/api")]
    assert switched["metadata"] == stable()["metadata"]


@pytest.mark.parametrize(
    ("ingress", "message"),
    [
        (stable("other"), "exactly one color"),
        (stable("web-blue", path("web-green", "/g")), "exactly one color"),
        (
            {**stable(), "metadata": {"name": "web", "annotations": {PREFIX + "canary": "true"}}},
            "is a canary Ingress",
        ),
    ],
)
def test_a_stable_ingress_serinus_cannot_use_is_refused(
    ingress: dict[str, Any], message: str
) -> None:
    with pytest.raises(RouterError, match=message):
        edits.primary_color(ingress, LAYOUT)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"exact": "1"}, {PREFIX + "canary-by-header-value": "1"}),
        ({"prefix": "be.ta"}, {PREFIX + "canary-by-header-pattern": r"^be\.ta.*"}),
        ({"regex": "t-[0-9]+"}, {PREFIX + "canary-by-header-pattern": "t-[0-9]+"}),
    ],
)
def test_header_routes_become_canary_by_header(
    value: dict[str, str], expected: dict[str, str]
) -> None:
    match = HeaderMatch.model_validate({"headerName": "X-Canary", "headerValue": value})
    route = edits.header_route("t", [match], "green")
    canary = edits.canary_ingress(stable(), None, LAYOUT, "green", 0, route)
    annotations = canary["metadata"]["annotations"]
    assert annotations[PREFIX + "canary-by-header"] == "X-Canary"
    assert {
        k: v for k, v in annotations.items() if "header-value" in k or "pattern" in k
    } == expected
    kept = edits.canary_ingress(stable(), canary, LAYOUT, "green", 40)
    assert edits.header_route_of(kept) == route
    assert kept["metadata"]["annotations"][PREFIX + "canary-weight"] == "40"


def test_a_header_route_to_the_stable_color_needs_a_zero_canary_weight() -> None:
    match = HeaderMatch.model_validate({"headerName": "X-A", "headerValue": {"exact": "1"}})
    route = edits.header_route("t", [match], "blue")
    canary = edits.canary_ingress(stable(), None, LAYOUT, "green", 0, route)
    assert PREFIX + "canary-by-header" not in canary["metadata"]["annotations"]
    with pytest.raises(RouterError, match="remove the header route first"):
        edits.canary_ingress(stable(), canary, LAYOUT, "green", 10)


def test_nginx_matches_one_header_only() -> None:
    two = [
        HeaderMatch.model_validate({"headerName": n, "headerValue": {"exact": "1"}}) for n in "AB"
    ]
    with pytest.raises(RouterError, match="exactly one header"):
        edits.header_route("t", two, "green")


def test_an_unchanged_canary_compares_equal() -> None:
    first = edits.canary_ingress(stable(), None, LAYOUT, "green", 10)
    first["metadata"].update({"uid": "u", "resourceVersion": "5", "generation": 1})
    assert edits.canary_ingress(stable(), first, LAYOUT, "green", 10) == first
