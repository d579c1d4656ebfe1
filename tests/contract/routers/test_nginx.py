"""The NGINX Ingress canary router passes the TrafficRouter contract (on the API stand-in).

One documented difference: an NGINX canary Ingress matches exactly one header, so the
contract's two-header route is replaced by a test that it is refused clearly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from kube_stand_in.kube_fixtures import kube_api, kube_client  # noqa: F401
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.contract.routers.contract import QA, TrafficRouterContract
from tests.contract.routers.kube_harness import (
    KubeRouterHarness,
    State,
    nginx_destination,
    sync_ready_pods,
)
from tests.contract.routers.kube_harness import nginx_weights as weights_of

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import INGRESSES
from serinus.adapters.routers.nginx import NginxRouter
from serinus.core.errors import RouterError
from serinus.core.routing_spec import NginxRouting
from serinus.core.status import Color

pytestmark = pytest.mark.integration

SERVICES: dict[str, Color] = {"shop-blue": "blue", "shop-green": "green"}
STABLE = ("networking.k8s.io", "ingresses", "shop")
CANARY = ("networking.k8s.io", "ingresses", "shop-canary")


def stable_ingress() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "shop",
            "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "8m"},
        },
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "shop.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {"name": "shop-blue", "port": {"number": 80}}
                                },
                            }
                        ]
                    },
                }
            ],
        },
    }


def capacity(state: State) -> dict[Color, int]:
    return weights_of(state[STABLE], state.get(CANARY), SERVICES)


def destination(state: State, headers: Mapping[str, str]) -> Color | None:
    return nginx_destination(state[STABLE], state.get(CANARY), SERVICES, headers)


@pytest.fixture
async def harness(
    kube_api: KubeApiStandIn,  # noqa: F811
    kube_client: KubeClient,  # noqa: F811
) -> AsyncIterator[KubeRouterHarness]:
    await kube_client.create(INGRESSES, "shop", stable_ingress())
    spec = NginxRouting.model_validate({"stableIngress": "shop"})
    router = NginxRouter(kube_client, rollout="shop", namespace="shop", spec=spec)
    await router.prepare()
    await sync_ready_pods(router)
    await router.set_weights({"blue": 100, "green": 0})
    yield KubeRouterHarness(kube_api, router, [INGRESSES], capacity, destination)


class TestNginxContract(TrafficRouterContract):
    async def test_all_matches_must_hold_and_a_regex_matches_the_whole_value(
        self, harness: KubeRouterHarness
    ) -> None:
        """NGINX matches one header: a route with two is refused, and nothing changes."""
        with pytest.raises(RouterError, match="exactly one header"):
            await harness.router.set_header_route("qa", QA, "green")
        assert await harness.destination({"X-Team": "qa", "X-User": "tester-12"}) == "blue"
