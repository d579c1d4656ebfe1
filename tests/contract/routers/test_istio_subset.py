"""The Istio router, subset-level (DestinationRule subsets per color), passes the contract.

The DestinationRule starts without the colors' subsets: the router adds each before a route
refers to it. Every write is validated by the stand-in against the real Istio CRDs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from kube_stand_in.kube_fixtures import kube_api, kube_client  # noqa: F401
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.contract.routers.contract import TrafficRouterContract
from tests.contract.routers.kube_harness import (
    KubeRouterHarness,
    State,
    istio_destination,
    sync_ready_pods,
)
from tests.contract.routers.kube_harness import istio_route_weights as route_weights

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import DESTINATION_RULES, VIRTUAL_SERVICES
from serinus.adapters.routers.istio import IstioRouter
from serinus.core.routing_spec import IstioRouting
from serinus.core.status import Color

pytestmark = pytest.mark.integration

VS_KEY = ("networking.istio.io", "virtualservices", "shop")
DR_KEY = ("networking.istio.io", "destinationrules", "shop")


def objects() -> tuple[dict[str, Any], dict[str, Any]]:
    vs = {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "VirtualService",
        "metadata": {"name": "shop"},
        "spec": {
            "hosts": ["shop"],
            "http": [{"route": [{"destination": {"host": "shop", "subset": "blue"}}]}],
        },
    }
    dr = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "shop"},
        "spec": {
            "host": "shop",
            "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}},
            "subsets": [{"name": "blue", "labels": {"serinus.io/color": "blue"}}],
        },
    }
    return vs, dr


def color_of(destination: Mapping[str, Any]) -> Color | None:
    subset = destination.get("subset")
    return subset if destination.get("host") == "shop" and subset in ("blue", "green") else None  # type: ignore[return-value]


def subsets_defined(state: State) -> set[str]:
    return {s["name"] for s in state[DR_KEY]["spec"].get("subsets") or []}


def capacity(state: State) -> dict[Color, int]:
    vs = state[VS_KEY]
    weights = route_weights(vs["spec"]["http"][-1], color_of)
    # A route naming a subset the DestinationRule lacks fails its requests: no capacity.
    return {c: (w if c in subsets_defined(state) else 0) for c, w in weights.items()}


def destination(state: State, headers: Mapping[str, str]) -> Color | None:
    color = istio_destination(state[VS_KEY], color_of, headers)
    assert color is None or color in subsets_defined(state)
    return color


@pytest.fixture
async def harness(
    kube_api: KubeApiStandIn,  # noqa: F811
    kube_client: KubeClient,  # noqa: F811
) -> AsyncIterator[KubeRouterHarness]:
    vs, dr = objects()
    await kube_client.create(VIRTUAL_SERVICES.at("v1alpha3"), "shop", vs)
    await kube_client.create(DESTINATION_RULES, "shop", dr)
    spec = IstioRouting.model_validate(
        {"virtualService": {"name": "shop"}, "destinationRule": {"name": "shop"}}
    )
    router = IstioRouter(kube_client, rollout="shop", namespace="shop", spec=spec)
    await router.prepare()
    await sync_ready_pods(router)
    await router.set_weights({"blue": 100, "green": 0})
    watched = [VIRTUAL_SERVICES, DESTINATION_RULES]
    yield KubeRouterHarness(kube_api, router, watched, capacity, destination)


class TestIstioSubsetContract(TrafficRouterContract):
    pass
