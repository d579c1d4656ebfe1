"""The Kubernetes workload specs: the pod template check, helm's replica rule, Workload.kind."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from serinus.core.spec import Workload

POD = {"spec": {"containers": [{"name": "game", "image": "game:v1"}]}}


def workload(data: dict[str, Any]) -> Workload:
    return Workload.model_validate(data)


def test_a_deployment_workload_keeps_its_template_and_replicas() -> None:
    chosen = workload({"deployment": {"replicas": 4, "template": POD, "selector": {"app": "g"}}})
    assert chosen.kind == "deployment"
    assert chosen.replicas == 4
    assert chosen.deployment is not None and chosen.deployment.template == POD


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ({}, "template.spec"),
        ({"spec": {"containers": []}}, "template.spec.containers"),
        ({"spec": {"containers": [{"image": "x"}]}}, "containers[0].name"),
        ({"spec": {"containers": [{"name": "x"}]}}, "containers[0].image"),
        ({"metadata": [], **POD}, "template.metadata"),
    ],
)
def test_a_template_without_containers_is_refused_naming_the_field(
    template: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError, match=named.replace("[", r"\[").replace("]", r"\]")):
        workload({"deployment": {"template": template}})


def test_reserved_and_invalid_selector_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        workload({"deployment": {"template": POD, "selector": {"serinus.io/color": "x"}}})
    with pytest.raises(ValidationError, match="not a valid label key"):
        workload({"deployment": {"template": POD, "selector": {"bad key": "x"}}})


@pytest.mark.parametrize(
    ("helm", "expected"),
    [
        ({"chart": "./game"}, 1),
        ({"chart": "./game", "values": {"replicaCount": 3}}, 3),
        ({"chart": "./game", "values": {"replicaCount": 3}, "replicas": 5}, 5),
    ],
)
def test_helm_replicas_come_from_replicas_then_replica_count_then_one(
    helm: dict[str, Any], expected: int
) -> None:
    chosen = workload({"helm": helm})
    assert chosen.kind == "helm"
    assert chosen.replicas == expected


@pytest.mark.parametrize("count", [0, 500, "3", True])
def test_a_bad_replica_count_value_is_refused(count: object) -> None:
    with pytest.raises(ValidationError, match="replicaCount"):
        workload({"helm": {"chart": "./game", "values": {"replicaCount": count}}})


def test_helm_fields_are_camel_case_and_unknown_ones_refused() -> None:
    chosen = workload(
        {
            "helm": {
                "chart": "game",
                "valuesFiles": ["a.yaml"],
                "set": {"image.repository": "r"},
                "helmBinary": "/opt/helm",
                "versionValue": "game.tag",
            }
        }
    )
    assert chosen.helm is not None
    assert chosen.helm.values_files == ["a.yaml"]
    assert chosen.helm.version_value == "game.tag"
    with pytest.raises(ValidationError, match="valueFiles"):
        workload({"helm": {"chart": "game", "valueFiles": []}})


def test_two_workload_kinds_at_once_are_refused() -> None:
    with pytest.raises(ValidationError, match="exactly one of: process, deployment, helm"):
        workload({"deployment": {"template": POD}, "helm": {"chart": "g"}})
