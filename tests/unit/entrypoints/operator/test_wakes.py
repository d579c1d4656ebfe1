"""What wakes a rollout: the routing objects its spec names, and the index the drivers keep."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.adapters.kube.resources import (
    DESTINATION_RULES,
    HTTP_ROUTES,
    INGRESSES,
    VIRTUAL_SERVICES,
)
from serinus.core.spec import Rollout
from serinus.entrypoints.operator.wakes import RouteIndex, routed_objects, wake_signature


def rollout(routing: dict[str, Any]) -> Rollout:
    return Rollout.model_validate(
        {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "version": "1",
                "workload": {
                    "deployment": {
                        "selector": {"app": "web"},
                        "template": {"spec": {"containers": [{"name": "w", "image": "w:1"}]}},
                    }
                },
                "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
                "trafficRouting": routing,
            },
        }
    )


@pytest.mark.parametrize(
    ("routing", "expected"),
    [
        (
            {"istio": {"virtualService": {"name": "vs", "namespace": "mesh"}}},
            {(VIRTUAL_SERVICES, "mesh", "vs")},
        ),
        (
            {"istio": {"virtualService": {"name": "vs"}, "destinationRule": {"name": "dr"}}},
            {(VIRTUAL_SERVICES, "shop", "vs"), (DESTINATION_RULES, "shop", "dr")},
        ),
        ({"gatewayAPI": {"httpRoute": "route"}}, {(HTTP_ROUTES, "shop", "route")}),
        (
            {"nginx": {"stableIngress": "web"}},
            {(INGRESSES, "shop", "web"), (INGRESSES, "shop", "web-canary")},
        ),
    ],
)
def test_the_routing_objects_a_spec_names(routing: dict[str, Any], expected: set[Any]) -> None:
    assert routed_objects(rollout(routing)) == expected


def test_the_index_follows_what_each_rollout_routes_now() -> None:
    index = RouteIndex()
    vs, other = (VIRTUAL_SERVICES, "shop", "vs"), (VIRTUAL_SERVICES, "shop", "other")
    index.route(("shop", "a"), [vs])
    index.route(("shop", "b"), [vs])
    assert index.routing(vs) == {("shop", "a"), ("shop", "b")}
    index.route(("shop", "a"), [other])  # a's spec now names another VirtualService
    assert index.routing(vs) == {("shop", "b")}
    assert index.routing(other) == {("shop", "a")}
    index.route(("shop", "b"), [])  # b deleted
    assert index.routing(vs) == set()


def test_a_new_generation_or_a_new_pending_intent_changes_the_signature() -> None:
    body = {"metadata": {"generation": 2}, "status": {"intents": [{"id": 1, "consumed": True}]}}
    assert wake_signature(body) == (2, frozenset())
    body["status"]["intents"].append({"id": 2, "consumed": False})
    assert wake_signature(body) == (2, frozenset({2}))
