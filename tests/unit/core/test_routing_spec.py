"""The Kubernetes routers' spec models: Argo-like names, color-keyed overrides, clear errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serinus.core.routing_spec import ColorNames, NginxRouting
from serinus.core.spec import TrafficRouting


def test_istio_subset_level_with_defaults() -> None:
    routing = TrafficRouting.model_validate(
        {
            "istio": {
                "virtualService": {"name": "vs", "routes": ["primary"]},
                "destinationRule": {"name": "dr"},
            }
        }
    )
    assert routing.kind == "istio"
    assert routing.istio is not None and routing.istio.destination_rule is not None
    assert routing.istio.destination_rule.subset("green") == "green"
    assert routing.istio.hosts.of("blue", "shop") == "shop-blue"


def test_gateway_api_uses_the_argo_spelling() -> None:
    routing = TrafficRouting.model_validate({"gatewayAPI": {"httpRoute": "web"}})
    assert routing.kind == "gatewayAPI"
    with pytest.raises(ValidationError, match="gatewayApi"):
        TrafficRouting.model_validate({"gatewayApi": {"httpRoute": "web"}})


def test_color_names_override_the_default_service() -> None:
    assert ColorNames(green="web-canary").of("green", "web") == "web-canary"
    assert NginxRouting(stable_ingress="web").canary_ingress_name == "web-canary"


@pytest.mark.parametrize(
    "raw",
    [
        {"istio": {"virtualService": {"name": "Bad_Name"}}},
        {
            "istio": {
                "virtualService": {"name": "vs"},
                "destinationRule": {"name": "dr", "colorLabel": "a b"},
            }
        },
        {"nginx": {"stableIngress": "web", "stable": "typo"}},
        {"istio": {"virtualService": {"name": "vs"}}, "nginx": {"stableIngress": "web"}},
    ],
    ids=["name-pattern", "label-key", "unknown-field", "two-kinds"],
)
def test_bad_input_is_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TrafficRouting.model_validate(raw)
