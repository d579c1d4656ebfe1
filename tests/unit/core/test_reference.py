"""docs/reference.md is generated from the spec models and must not be stale."""

from __future__ import annotations

from pathlib import Path

from serinus.core.reference import render, rows
from serinus.core.spec import Rollout

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "reference.md"


def test_reference_is_current() -> None:
    assert REFERENCE.read_text() == render(), (
        "docs/reference.md is stale: python -m serinus.core.reference > docs/reference.md"
    )


def test_every_kind_and_leaf_field_is_listed() -> None:
    paths = {path for path, *_ in rows(Rollout)}
    for expected in (
        "spec.workload.process.command",
        "spec.workload.helm.chart",
        "spec.trafficRouting.istio.virtualService.name",
        "spec.trafficRouting.gatewayAPI.httpRoute",
        "spec.strategy.blueGreenCanary.steps[].judgement.requiredRoles",
        "spec.analysisTemplates[].metrics[].successCondition",
    ):
        assert expected in paths
    required = {path for path, _, default, *_ in rows(Rollout) if default == "**required**"}
    assert "spec.version" in required and "spec.strategy.canary" not in required
