"""The Kubernetes routers against the API stand-in: concurrency, ordering and bad input.

The seed's hazard: other teams edit the same VirtualService. A concurrent writer changing
another route between serinus's read and its write makes the write conflict (409); serinus
re-reads, recomputes and writes again, and the other change survives.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from kube_stand_in.kubeapi import ApiRequest, KubeApiStandIn
from tests.contract.routers.kube_harness import sync_ready_pods

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import DESTINATION_RULES, HTTP_ROUTES, VIRTUAL_SERVICES
from serinus.adapters.routers.gatewayapi import GatewayApiRouter
from serinus.adapters.routers.istio import IstioRouter
from serinus.core.errors import Forbidden, NotFound, RouterError
from serinus.core.routing_spec import GatewayApiRouting, IstioRouting

pytestmark = pytest.mark.integration


def virtual_service() -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "shop"},
        "spec": {
            "hosts": ["shop"],
            "http": [
                {
                    "name": "reports",
                    "match": [{"uri": {"prefix": "/reports"}}],
                    "route": [{"destination": {"host": "reports-v1"}}],
                },
                {
                    "name": "primary",
                    "route": [{"destination": {"host": "shop-blue"}, "weight": 100}],
                },
            ],
        },
    }


def istio(**extra: Any) -> IstioRouting:
    return IstioRouting.model_validate(
        {"virtualService": {"name": "shop", "routes": ["primary"]}, **extra}
    )


async def test_a_concurrent_edit_of_another_route_survives_serinus_retrying(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    await kube_client.create(VIRTUAL_SERVICES, "shop", virtual_service())
    router = IstioRouter(kube_client, rollout="shop", namespace="shop", spec=istio())
    await sync_ready_pods(router)
    interfered: list[str] = []

    def other_team(request: ApiRequest) -> None:
        # Between serinus's read and its PUT, another team moves the reports route to v2.
        if request.verb == "update" and request.plural == "virtualservices" and not interfered:

            def to_v2(vs: dict[str, Any]) -> None:
                vs["spec"]["http"][0]["route"][0]["destination"]["host"] = "reports-v2"

            kube_api.edit(VIRTUAL_SERVICES, "shop", "shop", to_v2)
            interfered.append(request.method)

    remove = kube_api.add_hook(other_team)
    try:
        await router.set_weights({"blue": 90, "green": 10})
    finally:
        remove()
    puts = [r for r in kube_api.requests if r.verb == "update" and r.plural == "virtualservices"]
    assert interfered and len(puts) == 2, "the first write conflicted and was retried"
    stored = kube_api.stored(VIRTUAL_SERVICES, "shop", "shop")
    assert stored is not None
    assert stored["spec"]["http"][0]["route"][0]["destination"]["host"] == "reports-v2"
    assert await router.read_weights() == {"blue": 90, "green": 10}


async def test_rbac_forbidden_is_a_clear_error_and_changes_nothing(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    await kube_client.create(VIRTUAL_SERVICES, "shop", virtual_service())
    kube_api.forbid(verb="update", plural="virtualservices")
    router = IstioRouter(kube_client, rollout="shop", namespace="shop", spec=istio())
    await sync_ready_pods(router)
    with pytest.raises(Forbidden) as raised:
        await router.set_weights({"blue": 50, "green": 50})
    message = str(raised.value)
    for word in ("may not update", "virtualservices.networking.istio.io", 'namespace "shop"'):
        assert word in message
    assert await router.read_weights() == {"blue": 100, "green": 0}


async def test_a_missing_virtual_service_or_route_is_named(kube_client: KubeClient) -> None:
    router = IstioRouter(kube_client, rollout="shop", namespace="shop", spec=istio())
    with pytest.raises(NotFound, match=re.escape('virtualservices.networking.istio.io "shop"')):
        await router.prepare()
    await kube_client.create(VIRTUAL_SERVICES, "shop", virtual_service())
    wrong = IstioRouting.model_validate({"virtualService": {"name": "shop", "routes": ["main"]}})
    router = IstioRouter(kube_client, rollout="shop", namespace="shop", spec=wrong)
    await sync_ready_pods(router)
    with pytest.raises(
        NotFound, match=r"no HTTP route named 'main' \(its routes: primary, reports\)"
    ):
        await router.prepare()
    with pytest.raises(NotFound):
        await router.set_weights({"blue": 0, "green": 100})


async def test_an_unmanaged_destination_rule_missing_a_subset_is_named(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    vs = virtual_service()
    vs["spec"]["http"][1]["route"] = [{"destination": {"host": "shop", "subset": "blue"}}]
    await kube_client.create(VIRTUAL_SERVICES, "shop", vs)
    routing = istio(destinationRule={"name": "shop", "manageSubsets": False})
    router = IstioRouter(kube_client, rollout="shop", namespace="shop", spec=routing)
    await sync_ready_pods(router)
    with pytest.raises(NotFound, match=re.escape('destinationrules.networking.istio.io "shop"')):
        await router.prepare()
    await kube_client.create(
        DESTINATION_RULES,
        "shop",
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "shop"},
            "spec": {"host": "shop", "subsets": [{"name": "blue", "labels": {"v": "1"}}]},
        },
    )
    before = kube_api.resource_version
    with pytest.raises(RouterError, match=r"DestinationRule 'shop' has no subset 'green'"):
        await router.set_weights({"blue": 90, "green": 10})
    assert kube_api.changes(before) == [], "nothing was written"


async def test_a_subset_is_added_before_a_route_refers_to_it_and_removed_after(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    vs = virtual_service()
    vs["spec"]["http"][1]["route"] = [{"destination": {"host": "shop", "subset": "blue"}}]
    await kube_client.create(VIRTUAL_SERVICES, "shop", vs)
    await kube_client.create(
        DESTINATION_RULES,
        "shop",
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "shop"},
            "spec": {"host": "shop.shop.svc.cluster.local"},
        },
    )
    router = IstioRouter(
        kube_client, rollout="shop", namespace="shop", spec=istio(destinationRule={"name": "shop"})
    )
    await sync_ready_pods(router)
    start = kube_api.resource_version
    await router.set_weights({"blue": 80, "green": 20})
    assert [c.plural for c in kube_api.changes(start)] == ["destinationrules", "virtualservices"]
    dr = kube_api.stored(DESTINATION_RULES, "shop", "shop")
    assert dr is not None
    assert dr["spec"]["subsets"] == [
        {"name": "blue", "labels": {"serinus.io/color": "blue"}},
        {"name": "green", "labels": {"serinus.io/color": "green"}},
    ]
    await router.set_mirror("green", 25)
    with pytest.raises(RouterError, match="still sends 20% to green"):
        await router.remove_color("green")
    await router.set_weights({"blue": 100, "green": 0})
    middle = kube_api.resource_version
    await router.remove_color("green")
    assert [c.plural for c in kube_api.changes(middle)] == ["virtualservices", "destinationrules"]
    stored = kube_api.stored(VIRTUAL_SERVICES, "shop", "shop")
    assert stored is not None and "mirror" not in stored["spec"]["http"][1]
    assert stored["spec"]["http"][1]["route"] == [
        {"destination": {"host": "shop", "subset": "blue"}, "weight": 100}
    ]


async def test_the_gateway_router_names_a_missing_route_and_rule(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    spec = GatewayApiRouting.model_validate({"httpRoute": "shop", "rules": ["main"]})
    router = GatewayApiRouter(kube_client, rollout="shop", namespace="shop", spec=spec)
    await sync_ready_pods(router)
    with pytest.raises(NotFound, match=re.escape('httproutes.gateway.networking.k8s.io "shop"')):
        await router.read_weights()
    await kube_client.create(
        HTTP_ROUTES,
        "shop",
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "shop"},
            "spec": {"rules": [{"backendRefs": [{"name": "shop-blue", "port": 80}]}]},
        },
    )
    with pytest.raises(NotFound, match="no rule named 'main'"):
        await router.set_weights({"blue": 50, "green": 50})
