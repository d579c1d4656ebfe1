"""The Istio router, host-level (a Service per color), passes the TrafficRouter contract.

Runs against the Kubernetes API stand-in, which validates every write against the real Istio
CRD schema. The VirtualService also has an unmanaged route that must stay untouched.
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
from serinus.adapters.kube.resources import VIRTUAL_SERVICES
from serinus.adapters.routers.istio import IstioRouter
from serinus.core.routing_spec import IstioRouting
from serinus.core.status import Color

pytestmark = pytest.mark.integration

HOSTS: dict[str, Color] = {"shop-blue": "blue", "shop-green": "green"}
OTHER_ROUTE = {
    "name": "reports",
    "match": [{"uri": {"prefix": "/reports"}}],
    "route": [{"destination": {"host": "reports"}}],
}


def virtual_service() -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "shop"},
        "spec": {
            "hosts": ["shop.example.com"],
            "gateways": ["shop-gateway"],
            "http": [
                OTHER_ROUTE,
                {
                    "name": "primary",
                    "timeout": "5s",
                    "route": [
                        {
                            "destination": {"host": "shop-blue", "port": {"number": 80}},
                            "weight": 100,
                        }
                    ],
                },
            ],
        },
    }


def color_of(destination: Mapping[str, Any]) -> Color | None:
    return HOSTS.get(str(destination.get("host")))


def capacity(state: State) -> dict[Color, int]:
    vs = state[("networking.istio.io", "virtualservices", "shop")]
    primary = next(r for r in vs["spec"]["http"] if r.get("name") == "primary")
    return route_weights(primary, color_of)


def destination(state: State, headers: Mapping[str, str]) -> Color | None:
    vs = state[("networking.istio.io", "virtualservices", "shop")]
    assert vs["spec"]["http"][0] == OTHER_ROUTE, "the unmanaged route was changed or moved"
    return istio_destination(vs, color_of, headers)


@pytest.fixture
async def harness(
    kube_api: KubeApiStandIn,  # noqa: F811
    kube_client: KubeClient,  # noqa: F811
) -> AsyncIterator[KubeRouterHarness]:
    await kube_client.create(VIRTUAL_SERVICES.at("v1beta1"), "shop", virtual_service())
    spec = IstioRouting.model_validate({"virtualService": {"name": "shop", "routes": ["primary"]}})
    router = IstioRouter(kube_client, rollout="shop", namespace="shop", spec=spec)
    await router.prepare()
    await sync_ready_pods(router)
    await router.set_weights({"blue": 100, "green": 0})
    yield KubeRouterHarness(kube_api, router, [VIRTUAL_SERVICES], capacity, destination)


class TestIstioHostContract(TrafficRouterContract):
    pass
