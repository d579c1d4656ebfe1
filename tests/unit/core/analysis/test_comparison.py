"""Comparison metrics: the comparative judge's classification becomes the measurement's phase."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from serinus.core.analysis.comparison import judge_comparison
from serinus.core.analysis.run import Measurement, MeasurementPhase
from serinus.core.analysis.spec import Metric


def comparison_metric(**canary_config: Any) -> Metric:
    return Metric.model_validate(
        {
            "name": "error-ratio",
            "comparison": {
                "provider": {
                    "prometheus": {
                        "address": "http://prom:9090",
                        "range": {"start": "5m", "step": "10s"},
                    }
                },
                "baselineQuery": "b",
                "canaryQuery": "c",
                "canaryConfig": {"direction": "increase", **canary_config},
            },
        }
    )


RNG = np.random.default_rng(4)
BASELINE = list(RNG.normal(0.005, 0.001, 60))


def test_a_clearly_worse_canary_fails_with_the_judge_figures() -> None:
    canary = list(RNG.normal(0.05, 0.005, 60))
    measurement = judge_comparison(comparison_metric(), BASELINE, canary, now=7)
    assert measurement.phase is MeasurementPhase.FAILED
    assert measurement.details["classification"] == "High"
    assert measurement.details["pValue"] < 0.001  # type: ignore[operator]
    assert measurement.details["baselineCount"] == 60 and measurement.details["canaryCount"] == 60
    low, high = measurement.details["ciLow"], measurement.details["ciHigh"]
    assert isinstance(low, float) and isinstance(high, float) and 0 < low < high
    assert measurement.message.startswith("High: ")


def test_a_similar_canary_passes() -> None:
    canary = list(RNG.normal(0.005, 0.001, 60))
    assert judge_comparison(comparison_metric(), BASELINE, canary, 0).phase is (
        MeasurementPhase.SUCCESSFUL
    )


def test_a_decrease_is_fine_when_only_increases_matter() -> None:
    canary = [v / 10 for v in BASELINE]
    assert judge_comparison(comparison_metric(), BASELINE, canary, 0).phase is (
        MeasurementPhase.SUCCESSFUL
    )


def test_no_data_is_inconclusive_or_failed_never_successful() -> None:
    assert judge_comparison(comparison_metric(), BASELINE, [], 0).phase is (
        MeasurementPhase.INCONCLUSIVE
    )
    nan_only = [math.nan] * 5
    assert judge_comparison(comparison_metric(), BASELINE, nan_only, 0).phase is (
        MeasurementPhase.INCONCLUSIVE
    )
    must = comparison_metric(mustHaveData=True)
    assert judge_comparison(must, BASELINE, [], 0).phase is MeasurementPhase.FAILED


def test_infinite_values_are_an_error() -> None:
    measurement = judge_comparison(comparison_metric(), BASELINE, [math.inf, 1.0], 0)
    assert measurement.phase is MeasurementPhase.ERROR


def test_comparison_measurements_round_trip_through_json() -> None:
    canary = list(RNG.normal(0.05, 0.005, 30))
    measurement = judge_comparison(comparison_metric(), BASELINE, canary, now=7)
    stored = json.loads(json.dumps(measurement.model_dump(mode="json", by_alias=True)))
    assert Measurement.model_validate(stored) == measurement
