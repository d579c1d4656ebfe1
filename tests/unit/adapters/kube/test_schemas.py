"""Objects are checked against the real CRDs, plus the ranges the schemas lack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from serinus.adapters.kube.schemas import SchemaRegistry
from serinus.core.errors import InvalidInput

SCHEMAS = Path(__file__).resolve().parents[4] / "third_party" / "schemas"


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    assert SCHEMAS.is_dir(), f"the shared CRD schemas are missing at {SCHEMAS}"
    return SchemaRegistry.from_directory(SCHEMAS)


def vs(route: list[dict[str, Any]], version: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": f"networking.istio.io/{version}",
        "kind": "VirtualService",
        "metadata": {"name": "web"},
        "spec": {"hosts": ["web"], "http": [{"route": route}]},
    }


@pytest.mark.parametrize("version", ["v1", "v1beta1", "v1alpha3"])
def test_a_valid_virtual_service_has_no_problems(registry: SchemaRegistry, version: str) -> None:
    route = [
        {"destination": {"host": "a"}, "weight": 90},
        {"destination": {"host": "b"}, "weight": 10},
    ]
    assert registry.problems(vs(route, version)) == []


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (vs([{"destination": {"host": "a"}, "weight": 101}]), "outside 0..100"),
        (
            vs(
                [
                    {"destination": {"host": "a"}, "weight": 50},
                    {"destination": {"host": "b"}, "weight": 40},
                ]
            ),
            "sum to 90",
        ),
        (vs([{"destination": {"host": "a"}, "weight": 2**31}]), "int32"),
        (vs([{"destination": {"host": "a"}, "wieght": 100}]), "'wieght' was unexpected"),
        (vs([{"destination": {}}]), "'host' is a required property"),
        (vs([{"destination": {"host": "a"}, "weight": "100"}]), "is not of type 'integer'"),
        (
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {},
                "spec": {"rules": [{"backendRefs": [{"name": "a", "weight": 1000001}]}]},
            },
            "greater than the maximum",
        ),
        ({"apiVersion": "example.com/v1", "kind": "Thing"}, "no CRD schema"),
    ],
    ids=[
        "weight-range",
        "weight-sum",
        "int32",
        "unknown-field",
        "required",
        "type",
        "gateway-max",
        "unknown-kind",
    ],
)
def test_problems_are_named(registry: SchemaRegistry, obj: dict[str, Any], problem: str) -> None:
    found = registry.problems(obj)
    assert any(problem in p for p in found), found


def test_validate_raises_invalid_input_naming_the_object(registry: SchemaRegistry) -> None:
    with pytest.raises(InvalidInput, match="VirtualService 'web'"):
        registry.validate(vs([{"destination": {"host": "a"}, "weight": 101}]))


def test_the_directory_holds_the_crds_serinus_writes(registry: SchemaRegistry) -> None:
    for api_version, kind in [
        ("networking.istio.io/v1", "VirtualService"),
        ("networking.istio.io/v1alpha3", "DestinationRule"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ]:
        assert registry.knows(api_version, kind)


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a directory"):
        SchemaRegistry.from_directory(tmp_path / "nowhere")
