"""Kayenta canary configs are accepted as written; what the judge reads is validated strictly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from serinus.core.errors import InvalidInput
from serinus.core.judge.canary_config import (
    Direction,
    EffectSizeMeasure,
    NanStrategy,
    OutlierStrategy,
    parse_canary_config,
)

DATA = Path(__file__).parent / "data"
CANARY = "metrics[0].analysisConfigurations.canary."


def minimal(**canary: Any) -> dict[str, Any]:
    return {
        "metrics": [{"name": "m", "groups": ["g"], "analysisConfigurations": {"canary": canary}}]
    }


def problems(document: Any) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_canary_config(document)
    return caught.value.problems


def test_a_spinnaker_export_is_accepted_unchanged() -> None:
    config = parse_canary_config(json.loads((DATA / "kayenta_canary_config.json").read_text()))
    assert [m.name for m in config.metrics] == ["request_error_rate", "latency_p95", "cpu_usage"]
    errors = config.metrics[0].canary
    assert errors.is_critical and errors.nan_strategy is NanStrategy.REPLACE
    assert errors.direction is Direction.INCREASE
    assert errors.effect_size.critical_increase == 1.5
    latency = config.metrics[1].canary
    assert latency.outliers.strategy is OutlierStrategy.REMOVE
    assert config.classifier.group_weights == {"errors": 50, "latency": 30, "resources": 20}
    assert config.classifier.score_thresholds.pass_ == 95.0


def test_kayenta_defaults() -> None:
    config = parse_canary_config(minimal())
    canary = config.metrics[0].canary
    assert canary.direction is Direction.EITHER
    assert canary.nan_strategy is NanStrategy.REMOVE
    assert canary.outliers.strategy is OutlierStrategy.KEEP
    assert canary.outliers.outlier_factor == 3.0
    assert canary.effect_size.measure is EffectSizeMeasure.MEAN_RATIO
    assert canary.effect_size.neutral() == 1.0
    assert not (canary.critical or canary.must_have_data or canary.muted)
    judge = config.judge.judge_configurations
    assert (judge.tolerance, judge.confidence_level) == (0.25, 0.98)
    thresholds = config.classifier.score_thresholds
    assert (thresholds.pass_, thresholds.marginal) == (95.0, 75.0)


def test_judge_configurations_are_read() -> None:
    document = minimal() | {
        "judge": {
            "name": "NetflixACAJudge-v1.0",
            "judgeConfigurations": {"tolerance": 0.1, "confidenceLevel": 0.95, "other": 1},
        }
    }
    judge = parse_canary_config(document).judge.judge_configurations
    assert (judge.tolerance, judge.confidence_level) == (0.1, 0.95)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            minimal(direction="up"),
            CANARY + "direction: Input should be 'increase', 'decrease' or 'either'",
        ),
        (
            minimal(critical="yes"),
            CANARY + "critical: Input should be a valid boolean",
        ),
        (minimal(critcal=True), CANARY + "critcal: unknown field"),
        (
            minimal(effectSize={"allowedIncrease": "1.2"}),
            CANARY + "effectSize.allowedIncrease: Input should be a valid number",
        ),
        (
            minimal(effectSize={"measure": "cohen"}),
            CANARY + "effectSize.measure: Input should be 'meanRatio' or 'cles'",
        ),
        (
            minimal(outliers={"strategy": "remove", "outlierFactor": -1}),
            CANARY + "outliers.outlierFactor: Input should be greater than or equal to 0",
        ),
        (
            minimal(nanStrategy=3),
            CANARY + "nanStrategy: Input should be 'remove' or 'replace'",
        ),
        (
            {"metrics": [{"name": "m", "groups": []}]},
            "metrics[0].groups: List should have at least 1 item after validation, not 0",
        ),
        ({"metrics": [{"groups": ["g"]}]}, "metrics[0].name: required field is missing"),
        ({"metrics": []}, "metrics: List should have at least 1 item after validation, not 0"),
        (
            {"metrics": [{"name": "m", "groups": ["g"]}, {"name": "m", "groups": ["g"]}]},
            "metrics: metric name 'm' appears more than once",
        ),
        (
            minimal() | {"classifier": {"groupWeights": {"g": -1}}},
            "classifier.groupWeights.g: Input should be greater than or equal to 0",
        ),
        (
            minimal() | {"classifier": {"scoreThresholds": {"pass": 50, "marginal": 80}}},
            "classifier.scoreThresholds: marginal (80.0) must not be above pass (50.0)",
        ),
        (
            minimal() | {"classifier": {"scoreThresholds": {"pass": 150}}},
            "classifier.scoreThresholds.pass: Input should be less than or equal to 100",
        ),
        (
            minimal() | {"judge": {"judgeConfigurations": {"confidenceLevel": 1.0}}},
            "judge.judgeConfigurations.confidenceLevel: Input should be less than 1",
        ),
    ],
)
def test_bad_values_name_their_field(document: dict[str, Any], expected: str) -> None:
    assert expected in problems(document)


def test_not_a_mapping() -> None:
    assert problems([1, 2]) == ["(document): expected a mapping (a Kayenta canary config)"]
