"""Every VirtualService and HTTPRoute of third_party/examples-upstream stays valid when shifted.

Each manifest is created in the API stand-in (which validates against the real CRDs), a
router is configured with the manifest's own two destinations as the colors, and weights are
moved step by step to the other side and back; after every write the stored object must
still validate and every field outside the managed weights must be unchanged.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.contract.routers.kube_harness import sync_ready_pods

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import DESTINATION_RULES, HTTP_ROUTES, VIRTUAL_SERVICES
from serinus.adapters.routers.gatewayapi import GatewayApiRouter
from serinus.adapters.routers.istio import IstioRouter
from serinus.core.ports import TrafficRouter
from serinus.core.routing_spec import GatewayApiRouting, IstioRouting
from serinus.core.status import Color

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "third_party" / "examples-upstream"
STEPS: list[dict[Color, int]] = [
    {"blue": 90, "green": 10},
    {"blue": 33, "green": 67},
    {"blue": 0, "green": 100},
    {"blue": 100, "green": 0},
]


def documents(name: str) -> list[dict[str, Any]]:
    with (EXAMPLES / name).open() as handle:
        return [d for d in yaml.safe_load_all(handle) if d]


def of_kind(name: str, kind: str, object_name: str | None = None) -> dict[str, Any]:
    return next(
        d
        for d in documents(name)
        if d["kind"] == kind and object_name in (None, d["metadata"]["name"])
    )


def all_routes() -> list[tuple[str, str]]:
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        found.extend(
            (path.name, d["kind"])
            for d in documents(path.name)
            if d["kind"] in ("VirtualService", "HTTPRoute")
        )
    return found


def without_weights(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with every weight and server-set field removed, for comparison."""
    result = copy.deepcopy(obj)
    result.pop("apiVersion", None)
    result["metadata"] = {"name": obj["metadata"]["name"]}
    for route in result["spec"].get("http") or []:
        for destination in route.get("route") or []:
            destination.pop("weight", None)
    for rule in result["spec"].get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            ref.pop("weight", None)
    return result


CASES: dict[str, Any] = {
    "argo-rollouts_test_e2e_istio_istio-host-split.yaml": lambda: (
        {
            "virtualService": {"name": "istio-host-split-vsvc", "routes": ["primary"]},
            "hosts": {"blue": "istio-host-split-stable", "green": "istio-host-split-canary"},
        },
        [],
    ),
    "argo-rollouts_examples_istio_istio-subset-split.yaml": lambda: (
        {
            "virtualService": {"name": "istio-subset-split-vsvc", "routes": ["primary"]},
            "destinationRule": {
                "name": "istio-subset-split-destrule",
                "blueSubsetName": "stable",
                "greenSubsetName": "canary",
                "manageSubsets": False,
            },
        },
        [of_kind("argo-rollouts_examples_istio_istio-subset-split.yaml", "DestinationRule")],
    ),
    "istio_samples_bookinfo_networking_virtual-service-reviews-90-10.yaml": lambda: (
        {
            "virtualService": {"name": "reviews"},
            "destinationRule": {
                "name": "reviews",
                "blueSubsetName": "v1",
                "greenSubsetName": "v2",
                "manageSubsets": False,
            },
        },
        [
            of_kind(
                "istio_samples_bookinfo_networking_destination-rule-all.yaml",
                "DestinationRule",
                "reviews",
            )
        ],
    ),
    "gateway-api_examples_standard_traffic-splitting_traffic-split-2.yaml": lambda: (
        {"httpRoute": "foo-route", "services": {"blue": "foo-v1", "green": "foo-v2"}},
        [],
    ),
    "istio_samples_bookinfo_gateway-api_route-reviews-90-10.yaml": lambda: (
        {"httpRoute": "reviews", "services": {"blue": "reviews-v1", "green": "reviews-v2"}},
        [],
    ),
}


def test_every_upstream_route_has_a_case() -> None:
    assert EXAMPLES.is_dir(), f"missing {EXAMPLES}"
    assert {name for name, _ in all_routes()} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_shifting_keeps_the_upstream_object_valid_and_untouched(
    kube_api: KubeApiStandIn, kube_client: KubeClient, name: str
) -> None:
    assert kube_api.schemas is not None, "the stand-in validates against third_party/schemas"
    spec, extra = CASES[name]()
    for obj in extra:
        await kube_client.create(DESTINATION_RULES.at(obj["apiVersion"].split("/")[1]), "demo", obj)
    router: TrafficRouter
    if "httpRoute" in spec:
        original = of_kind(name, "HTTPRoute")
        resource = HTTP_ROUTES
        router = GatewayApiRouter(
            kube_client,
            rollout="demo",
            namespace="demo",
            spec=GatewayApiRouting.model_validate(spec),
        )
    else:
        original = of_kind(name, "VirtualService")
        resource = VIRTUAL_SERVICES
        router = IstioRouter(
            kube_client, rollout="demo", namespace="demo", spec=IstioRouting.model_validate(spec)
        )
    await kube_client.create(resource.at(original["apiVersion"].split("/")[1]), "demo", original)
    await router.prepare()
    await sync_ready_pods(router)
    for weights in STEPS:
        await router.set_weights(weights)
        assert await router.read_weights() == weights
        stored = kube_api.stored(resource, "demo", original["metadata"]["name"])
        assert stored is not None
        assert kube_api.schemas.problems(stored) == []
        assert without_weights(stored) == without_weights(original)
