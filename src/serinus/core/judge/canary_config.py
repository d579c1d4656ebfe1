"""Kayenta canary configurations, accepted as Kayenta users write them.

A Kayenta canary-config JSON validates here unchanged: `metrics[].query`, `scopeName`,
`applications`, `configVersion`, `templates`, timestamps and other bookkeeping fields are accepted
and ignored (the queries belong to the metric providers, not to the judge). What the judge reads is
validated strictly, with errors naming the field path:

- `metrics[].name`, `metrics[].groups` (at least one group: a metric in no group would count
  nowhere), `metrics[].analysisConfigurations.canary` (other analysers' blocks are ignored);
- the `canary` block and its `effectSize` and `outliers` blocks reject unknown fields, because a
  misspelt `critical` or `allowedIncrease` would otherwise silently weaken the gate;
- `classifier.groupWeights` and `classifier.scoreThresholds {pass, marginal}`;
- `judge.judgeConfigurations {tolerance, confidenceLevel, compat}` (other judge settings are
  ignored); `compat: kayenta` reproduces Kayenta where serinus's default is safer.

Defaults follow Kayenta's NetflixACAJudge: direction `either`, nanStrategy `remove`, outliers
`keep` (factor 3.0 when removing), effect size `meanRatio` with every threshold at 1.0 (0.5 for
`cles`), tolerance 0.25, confidence level 0.98. Kayenta takes the score thresholds from the
execution request; when the config does not carry them, serinus uses pass 95 / marginal 75.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from serinus.core.documents import validate_model
from serinus.core.errors import InvalidInput

DEFAULT_TOLERANCE = 0.25
DEFAULT_CONFIDENCE_LEVEL = 0.98
DEFAULT_OUTLIER_FACTOR = 3.0
DEFAULT_PASS_THRESHOLD = 95.0
DEFAULT_MARGINAL_THRESHOLD = 75.0


class Direction(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"
    EITHER = "either"


class NanStrategy(StrEnum):
    REMOVE = "remove"
    REPLACE = "replace"


class OutlierStrategy(StrEnum):
    KEEP = "keep"
    REMOVE = "remove"


class EffectSizeMeasure(StrEnum):
    MEAN_RATIO = "meanRatio"
    CLES = "cles"


# Strict scalars: `"yes"` is not a boolean and `"0.5"` is not a number in a canary config.
Number = StrictFloat
NonNegative = Annotated[StrictFloat, Field(ge=0)]


class _Strict(BaseModel):
    """A block the judge reads: unknown fields are errors."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, alias_generator=to_camel, frozen=True
    )


class _Lenient(BaseModel):
    """A Kayenta object that also carries fields the judge does not use: those are ignored."""

    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, alias_generator=to_camel, frozen=True
    )


class EffectSize(_Strict):
    measure: EffectSizeMeasure = EffectSizeMeasure.MEAN_RATIO
    allowed_increase: Number | None = None
    allowed_decrease: Number | None = None
    critical_increase: Number | None = None
    critical_decrease: Number | None = None

    def neutral(self) -> float:
        """The value meaning "no effect": ratio 1, or probability one half."""
        return 0.5 if self.measure is EffectSizeMeasure.CLES else 1.0


class Outliers(_Strict):
    strategy: OutlierStrategy = OutlierStrategy.KEEP
    outlier_factor: NonNegative = DEFAULT_OUTLIER_FACTOR


class CanaryAnalysis(_Strict):
    direction: Direction = Direction.EITHER
    nan_strategy: NanStrategy = NanStrategy.REMOVE
    critical: StrictBool = False
    must_have_data: StrictBool = False
    muted: StrictBool = False
    effect_size: EffectSize = Field(default_factory=EffectSize)
    outliers: Outliers = Field(default_factory=Outliers)
    # Kayenta's earlier spelling of `critical` ("critical" | "normal"); accepted, `critical` wins.
    criticality: Literal["critical", "normal"] | None = None

    @property
    def is_critical(self) -> bool:
        return self.critical or self.criticality == "critical"


class AnalysisConfigurations(_Lenient):
    canary: CanaryAnalysis = Field(default_factory=CanaryAnalysis)


class MetricConfig(_Lenient):
    name: StrictStr = Field(min_length=1)
    groups: list[StrictStr] = Field(min_length=1)
    analysis_configurations: AnalysisConfigurations = Field(default_factory=AnalysisConfigurations)
    query: dict[str, Any] | None = None
    scope_name: str | None = None

    @property
    def canary(self) -> CanaryAnalysis:
        return self.analysis_configurations.canary


class ScoreThresholds(_Strict):
    pass_: StrictFloat = Field(default=DEFAULT_PASS_THRESHOLD, alias="pass", ge=0, le=100)
    marginal: StrictFloat = Field(default=DEFAULT_MARGINAL_THRESHOLD, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ScoreThresholds:
        if self.marginal > self.pass_:
            raise ValueError(f"marginal ({self.marginal}) must not be above pass ({self.pass_})")
        return self


class Classifier(_Lenient):
    group_weights: dict[str, NonNegative] = Field(default_factory=dict)
    score_thresholds: ScoreThresholds = Field(default_factory=ScoreThresholds)


class Compat(StrEnum):
    """`serinus` (default): missing data and undefined effect sizes judged the safer way;
    `kayenta`: exactly as Kayenta's MannWhitneyClassifier (docs/analysis-semantics.md)."""

    SERINUS = "serinus"
    KAYENTA = "kayenta"


class JudgeConfigurations(_Lenient):
    tolerance: NonNegative = DEFAULT_TOLERANCE
    confidence_level: StrictFloat = Field(default=DEFAULT_CONFIDENCE_LEVEL, gt=0, lt=1)
    compat: Compat = Compat.SERINUS


class JudgeConfig(_Lenient):
    name: str | None = None
    judge_configurations: JudgeConfigurations = Field(default_factory=JudgeConfigurations)


class CanaryConfig(_Lenient):
    name: str | None = None
    description: str | None = None
    config_version: str | int | float | None = None
    applications: list[str] = Field(default_factory=list)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    metrics: list[MetricConfig] = Field(min_length=1)
    templates: dict[str, Any] = Field(default_factory=dict)
    classifier: Classifier = Field(default_factory=Classifier)

    @field_validator("metrics")
    @classmethod
    def _unique_metric_names(cls, metrics: list[MetricConfig]) -> list[MetricConfig]:
        seen: set[str] = set()
        for metric in metrics:
            if metric.name in seen:
                raise ValueError(f"metric name {metric.name!r} appears more than once")
            seen.add(metric.name)
        return metrics


def parse_canary_config(document: Any, source: str = "canary config") -> CanaryConfig:
    """Validate a decoded canary-config document; errors name the field path."""
    if not isinstance(document, dict):
        raise InvalidInput(["(document): expected a mapping (a Kayenta canary config)"], source)
    return validate_model(CanaryConfig, document, source)
