"""Resource paths follow the API's conventions for core, group, namespaced and cluster scope."""

from __future__ import annotations

import pytest

from serinus.adapters.kube.resources import (
    CUSTOM_RESOURCE_DEFINITIONS,
    SERVICES,
    VIRTUAL_SERVICES,
    ObjectRef,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (SERVICES.path("shop"), "/api/v1/namespaces/shop/services"),
        (SERVICES.path(), "/api/v1/services"),
        (SERVICES.path("shop", "web", "status"), "/api/v1/namespaces/shop/services/web/status"),
        (
            VIRTUAL_SERVICES.at("v1alpha3").path("shop", "web"),
            "/apis/networking.istio.io/v1alpha3/namespaces/shop/virtualservices/web",
        ),
        (
            CUSTOM_RESOURCE_DEFINITIONS.path("ignored", "x"),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x",
        ),
    ],
)
def test_paths(path: str, expected: str) -> None:
    assert path == expected


def test_descriptions_name_the_object_and_namespace() -> None:
    ref = ObjectRef(VIRTUAL_SERVICES, "shop", "web")
    assert ref.describe() == 'virtualservices.networking.istio.io "web" in namespace "shop"'
    assert SERVICES.qualified == "services"
    assert VIRTUAL_SERVICES.api_version == "networking.istio.io/v1"
