"""The Gateway API router passes the TrafficRouter contract (HTTPRoute on the API stand-in).

The HTTPRoute also has an unmanaged rule that must stay untouched; every write is validated
against the real Gateway API CRD.
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
    gateway_destination,
    gateway_rule_weights,
    sync_ready_pods,
)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import HTTP_ROUTES
from serinus.adapters.routers.gatewayapi import GatewayApiRouter
from serinus.core.routing_spec import GatewayApiRouting
from serinus.core.status import Color

pytestmark = pytest.mark.integration

SERVICES: dict[str, Color] = {"shop-blue": "blue", "shop-green": "green", "reports": "blue"}
KEY = ("gateway.networking.k8s.io", "httproutes", "shop")
OTHER_RULE = {
    "name": "reports",
    "matches": [{"path": {"type": "PathPrefix", "value": "/reports"}}],
    "backendRefs": [{"name": "reports", "port": 80}],
}


def http_route() -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "shop"},
        "spec": {
            "parentRefs": [{"name": "shop-gateway"}],
            "hostnames": ["shop.example.com"],
            "rules": [
                OTHER_RULE,
                {
                    "name": "main",
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [{"name": "shop-blue", "port": 80}],
                },
            ],
        },
    }


def capacity(state: State) -> dict[Color, int]:
    main = next(r for r in state[KEY]["spec"]["rules"] if r.get("name") == "main")
    return gateway_rule_weights(main, SERVICES)


def destination(state: State, headers: Mapping[str, str]) -> Color | None:
    route = state[KEY]
    assert OTHER_RULE in route["spec"]["rules"], "the unmanaged rule was changed"
    return gateway_destination(route, SERVICES, headers)


@pytest.fixture
async def harness(
    kube_api: KubeApiStandIn,  # noqa: F811
    kube_client: KubeClient,  # noqa: F811
) -> AsyncIterator[KubeRouterHarness]:
    await kube_client.create(HTTP_ROUTES, "shop", http_route())
    spec = GatewayApiRouting.model_validate({"httpRoute": "shop", "rules": ["main"]})
    router = GatewayApiRouter(kube_client, rollout="shop", namespace="shop", spec=spec)
    await router.prepare()
    await sync_ready_pods(router)
    await router.set_weights({"blue": 100, "green": 0})
    yield KubeRouterHarness(kube_api, router, [HTTP_ROUTES], capacity, destination)


class TestGatewayApiContract(TrafficRouterContract):
    pass
