"""What the comparative judge reports: per-metric results, group scores, the score and the verdict.

`critical` on a metric has Kayenta's meaning: this result is a critical failure, one that forces
the canary score to 0 (a `critical` metric that passes reports `critical: false`).
`to_json()` gives the documented wire form; values that are undefined (no data, a mean ratio over
a zero baseline mean) are `null`, never NaN, which is not JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Classification(StrEnum):
    PASS = "Pass"
    HIGH = "High"
    LOW = "Low"
    NODATA = "Nodata"
    NODATA_FAIL_METRIC = "NodataFailMetric"
    ERROR = "Error"


class Verdict(StrEnum):
    PASS = "Pass"
    MARGINAL = "Marginal"
    FAIL = "Fail"


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class MetricResult:
    name: str
    classification: Classification
    reason: str
    critical: bool = False
    muted: bool = False
    p_value: float | None = None
    statistic: float | None = None
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    effect_size: float | None = None
    baseline_count: int = 0
    canary_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "classification": self.classification.value,
            "critical": self.critical,
            "pValue": _finite_or_none(self.p_value),
            "statistic": _finite_or_none(self.statistic),
            "estimate": _finite_or_none(self.estimate),
            "ciLow": _finite_or_none(self.ci_low),
            "ciHigh": _finite_or_none(self.ci_high),
            "effectSize": _finite_or_none(self.effect_size),
            "baselineCount": self.baseline_count,
            "canaryCount": self.canary_count,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class JudgeReport:
    metrics: tuple[MetricResult, ...]
    groups: dict[str, float | None]
    score: float
    verdict: Verdict
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": [metric.to_json() for metric in self.metrics],
            "groups": dict(self.groups),
            "score": self.score,
            "verdict": self.verdict.value,
        }
