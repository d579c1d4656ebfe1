"""The persisted state of an analysis run: its measurements, per-metric results and phase.

Frozen models, JSON round-trippable (NaN and infinity in Prometheus' spelling, since JSON and the
Kubernetes status have none), kept in the rollout's status. The decisions over them are in
`serinus.core.analysis.run`; a sequential metric's running evidence is `SequentialState`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer

from serinus.core.spec_base import StatusModel

_SPECIAL_FLOATS = {"NaN": math.nan, "+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf}


def _float_from_json(value: Any) -> Any:
    if isinstance(value, str) and value in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value]
    return value


def _float_to_json(value: float) -> float | str:
    # JSON (and the Kubernetes status) has no NaN or infinity; Prometheus' spelling is used.
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


JsonFloat = Annotated[
    float,
    BeforeValidator(_float_from_json),
    PlainSerializer(_float_to_json, return_type=float | str, when_used="json"),
]


class MeasurementPhase(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


class AnalysisPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"

    @property
    def completed(self) -> bool:
        return self not in (AnalysisPhase.PENDING, AnalysisPhase.RUNNING)


class Measurement(StatusModel):
    phase: MeasurementPhase
    at: float
    value: list[JsonFloat] = Field(default_factory=list)
    message: str = ""
    # the comparative judge's figures (pValue, estimate, ciLow, ...); empty for conditions
    details: dict[str, JsonFloat | str] = Field(default_factory=dict)


class Counters(StatusModel):
    """Both sides' request and bad-request counts (errors, or requests slower than a bucket)."""

    canary_requests: float = 0.0
    canary_bad: float = 0.0
    baseline_requests: float = 0.0
    baseline_bad: float = 0.0

    def __add__(self, other: Counters) -> Counters:
        return Counters(
            canary_requests=self.canary_requests + other.canary_requests,
            canary_bad=self.canary_bad + other.canary_bad,
            baseline_requests=self.baseline_requests + other.baseline_requests,
            baseline_bad=self.baseline_bad + other.baseline_bad,
        )

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            canary_requests=self.canary_requests - other.canary_requests,
            canary_bad=self.canary_bad - other.canary_bad,
            baseline_requests=self.baseline_requests - other.baseline_requests,
            baseline_bad=self.baseline_bad - other.baseline_bad,
        )


class SequentialState(StatusModel):
    """What a sequential metric carries from look to look.

    `last` holds the cumulative counters of the last good look (the next interval starts there),
    `seen` the counts since the first look (a counter reset loses one interval, not the run),
    and `log_ratios` the running log likelihood ratio of each alternative of the test.
    """

    last: Counters
    seen: Counters = Field(default_factory=Counters)
    log_ratios: list[float]


class MetricResult(StatusModel):
    name: str
    phase: AnalysisPhase = AnalysisPhase.PENDING
    dry_run: bool = False
    count: int = 0  # measurements that were not errors
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_errors: int = 0
    message: str = ""
    measurements: list[Measurement] = Field(default_factory=list)  # the newest ones
    sequential: SequentialState | None = None  # a sequential metric's evidence so far

    @property
    def last(self) -> Measurement | None:
        return self.measurements[-1] if self.measurements else None


class AnalysisRunState(StatusModel):
    name: str = ""
    phase: AnalysisPhase = AnalysisPhase.RUNNING
    message: str = ""
    started_at: float
    finished_at: float | None = None
    background: bool = False  # runs across steps until terminated (the engine decides where)
    args: dict[str, str] = Field(default_factory=dict)
    metrics: list[MetricResult] = Field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.phase.completed

    @property
    def failed(self) -> bool:
        """Failed or errored out: the rollout must not go on."""
        return self.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR)

    def result(self, name: str) -> MetricResult:
        for result in self.metrics:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_storage(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_storage(cls, data: Mapping[str, Any]) -> AnalysisRunState:
        return cls.model_validate(data)
