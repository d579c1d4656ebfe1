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
from serinus.entrypoints.operator.dry_run import ANNOTATION
from serinus.entrypoints.operator.wakes import (
    RouteIndex,
    WakeSignature,
    routed_objects,
    wake_signature,
)


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


def test_a_new_generation_a_new_pending_intent_or_the_dry_run_flag_wakes() -> None:
    body: dict[str, Any] = {
        "metadata": {"generation": 2},
        "status": {"intents": [{"id": 1, "consumed": True}]},
    }
    first = wake_signature(body)
    assert first == WakeSignature(2, frozenset(), dry_run=False)
    assert first.wakes(None) and not first.wakes(first)
    body["status"]["intents"].append({"id": 2, "consumed": False})
    pending = wake_signature(body)
    assert pending.pending == frozenset({2}) and pending.wakes(first)
    assert not first.wakes(pending), "an intent consumed wakes nothing"
    body["metadata"]["annotations"] = {ANNOTATION: "true"}  # metadata: the generation stays
    planned = wake_signature(body)
    assert planned.dry_run and planned.generation == 2 and planned.wakes(pending)
    del body["metadata"]["annotations"]
    assert wake_signature(body).wakes(planned), "removing the annotation wakes: perform now"
    body["metadata"]["generation"] = 3
    assert wake_signature(body).wakes(pending)
