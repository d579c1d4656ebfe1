"""AnalysisTemplate documents: metrics, their providers and conditions, as validated models.

The shape follows Argo Rollouts' AnalysisTemplate (`args`, `metrics[]` with `interval`, `count`,
`initialDelay`, `failureLimit`, `inconclusiveLimit`, `consecutiveErrorLimit`, `successCondition`,
`failureCondition`, `dryRun`, and exactly one `provider`), so users find what they know. Two
kinds are serinus's own: `comparison` (Kayenta's judge, canary samples against baseline samples)
and `sequential` (an early-stopping test on both sides' cumulative counters). Everything that can
be checked without running is checked here, so `serinus lint` rejects it:

- conditions are parsed by the safe expression language (errors show the position);
- a measured metric needs at least one condition: with none, a measurement would count as success
  whatever (or however little) it returned;
- `{{args.NAME}}` variables must name a declared argument (other `{{x.y}}` variables, such as
  `{{canary.selector}}`, are supplied by the engine at run time);
- the JSONPath of a web metric must be in the supported subset;
- a sequential metric has an interval (the time between looks), a count of at least 2, no
  condition and failureLimit 0 (its evidence reaching 1/alpha is the failure), and both sides
  count the same thing (errors, or requests within a histogram bucket).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from serinus.core.analysis.expressions import ExpressionError, parse_condition
from serinus.core.analysis.providers import (
    MAX_RANGE_POINTS,
    BasicAuth,
    CommandSource,
    FromEnv,
    JobSource,
    PrometheusAuthentication,
    PrometheusRange,
    PrometheusSource,
    Provider,
    TlsOptions,
    WebHeader,
    WebSource,
)
from serinus.core.analysis.templating import (
    ARGS_PREFIX,
    VARIABLE,
    strings_in,
    variables_in,
)
from serinus.core.documents import parse_text, validate_model
from serinus.core.errors import InvalidInput
from serinus.core.judge.canary_config import CanaryAnalysis, JudgeConfigurations
from serinus.core.spec_base import (
    MAX_COUNT,
    MAX_LIST,
    Count,
    Duration,
    Metadata,
    PositiveCount,
    PositiveDuration,
    SpecModel,
    Text,
    duplicated,
    json_data_problem,
    plain_document,
)

# the providers' models are part of a template's vocabulary: importers find them here too
__all__ = [
    "MAX_RANGE_POINTS",
    "AnalysisArg",
    "AnalysisTemplate",
    "AnalysisTemplateSpec",
    "BasicAuth",
    "CommandSource",
    "Comparison",
    "CounterQueries",
    "FromEnv",
    "JobSource",
    "Metric",
    "PrometheusAuthentication",
    "PrometheusRange",
    "PrometheusSource",
    "Provider",
    "Sequential",
    "TlsOptions",
    "WebHeader",
    "WebSource",
    "load_template",
]

TEMPLATE_KIND = "AnalysisTemplate"
NAME_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
ARG_PATTERN = r"^[A-Za-z_][-A-Za-z0-9_]*$"


class AnalysisArg(SpecModel):
    """A template argument; without `value` the caller must supply it."""

    name: str = Field(pattern=ARG_PATTERN, max_length=63)
    value: Text | None = None


class Comparison(SpecModel):
    """Canary samples against baseline samples, judged by the comparative (Kayenta) judge.

    `provider` is a Prometheus source without a `query` (usually with a `range`, so each side is
    a series of samples); `baselineQuery` and `canaryQuery` replace it. `canaryConfig` holds
    Kayenta's `analysisConfigurations.canary` fields (direction, nanStrategy, effectSize, outliers,
    critical, mustHaveData); `judge` its `judgeConfigurations` (tolerance, confidenceLevel).
    """

    provider: Provider
    baseline_query: Text = Field(min_length=1)
    canary_query: Text = Field(min_length=1)
    canary_config: CanaryAnalysis = Field(default_factory=CanaryAnalysis)
    judge: JudgeConfigurations = Field(default_factory=JudgeConfigurations)

    @model_validator(mode="after")
    def _prometheus_without_query(self) -> Comparison:
        if self.provider.prometheus is None:
            raise ValueError("comparison supports the prometheus provider only")
        if self.provider.prometheus.query:
            raise ValueError(
                "comparison: leave provider.prometheus.query empty; "
                "baselineQuery and canaryQuery replace it"
            )
        for name, block in (("canaryConfig", self.canary_config), ("judge", self.judge)):
            problem = json_data_problem(block.model_dump(by_alias=True), 8, 1000)
            if problem is not None:
                raise ValueError(f"comparison.{name}.{problem}")
        if self.canary_config.muted:
            raise ValueError(
                "comparison.canaryConfig.muted: a muted metric decides nothing; "
                "set dryRun on the metric instead"
            )
        return self

    def sources(self) -> tuple[PrometheusSource, PrometheusSource]:
        """The (baseline, canary) Prometheus sources, each with its query."""
        assert self.provider.prometheus is not None  # checked by the validator
        source = self.provider.prometheus
        return (
            source.model_copy(update={"query": self.baseline_query}),
            source.model_copy(update={"query": self.canary_query}),
        )


class CounterQueries(SpecModel):
    """One side's cumulative counters, each a PromQL query that returns one value.

    `requests` counts every request; `errors` the failed ones, or `bucket` (a histogram's
    cumulative bucket at the latency threshold, `le`) the ones answered within the threshold, so
    the slow ones are `requests - bucket`. Give `errors` or `bucket`, not both.
    """

    requests: Text = Field(min_length=1)
    errors: Text | None = Field(default=None, min_length=1)
    bucket: Text | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _errors_or_bucket(self) -> CounterQueries:
        if (self.errors is None) == (self.bucket is None):
            raise ValueError("give errors (failed requests) or bucket (fast requests), not both")
        return self

    @property
    def counts(self) -> Literal["errors", "bucket"]:
        return "errors" if self.errors is not None else "bucket"


Alpha = Annotated[float, Field(gt=0.0, le=0.5)]


class Sequential(SpecModel):
    """Fail a canary as soon as its error (or slow-request) ratio is shown worse than baseline's.

    Every look reads both sides' cumulative counters (`canary`, `baseline`) with instant queries
    of `provider` (a Prometheus source without a `query`). A mixture sequential probability
    ratio test (`serinus.core.judge.sequential`) weighs the evidence that the canary's ratio is
    above the baseline's; the metric fails at the first look where it reaches `1 / alpha`, and
    the chance that a canary no worse than baseline ever fails is at most `alpha`, however many
    looks there are. It passes only when its `count` of looks ends (or the run is terminated)
    and the canary has had at least `minSamples` requests since the first look.
    """

    provider: Provider
    alpha: Alpha = 0.05
    min_samples: PositiveCount
    canary: CounterQueries
    baseline: CounterQueries

    @model_validator(mode="after")
    def _counters(self) -> Sequential:
        source = self.provider.prometheus
        if source is None:
            raise ValueError("sequential supports the prometheus provider only")
        if source.query:
            raise ValueError(
                "sequential: leave provider.prometheus.query empty; the canary and baseline "
                "queries replace it"
            )
        if source.range is not None:
            raise ValueError(
                "sequential: provider.prometheus.range is not allowed; each counter is read "
                "at the time of the look"
            )
        if self.canary.counts != self.baseline.counts:
            raise ValueError(
                f"sequential: canary counts {self.canary.counts} and baseline counts "
                f"{self.baseline.counts}; both sides must count the same thing"
            )
        return self

    def sources(self) -> dict[str, PrometheusSource]:
        """Each counter's Prometheus source, by name (`canary.requests`, `baseline.errors`, ...)."""
        source = self.provider.prometheus
        assert source is not None  # checked by the validator
        queries: dict[str, PrometheusSource] = {}
        for side, counters in (("canary", self.canary), ("baseline", self.baseline)):
            for field in ("requests", counters.counts):
                query = getattr(counters, field)
                queries[f"{side}.{field}"] = source.model_copy(update={"query": query})
        return queries


# --- metrics and templates ---------------------------------------------------------------------


class Metric(SpecModel):
    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    interval: PositiveDuration | None = None
    initial_delay: Duration = 0.0
    count: int | None = Field(default=None, ge=1, le=MAX_COUNT, strict=True)
    failure_limit: Count = 0
    inconclusive_limit: Count = 0
    consecutive_error_limit: Count = 4
    success_condition: Text | None = None
    failure_condition: Text | None = None
    dry_run: bool = False
    provider: Provider | None = None
    comparison: Comparison | None = None
    sequential: Sequential | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Metric:
        kinds = [self.provider, self.comparison, self.sequential]
        if sum(kind is not None for kind in kinds) != 1:
            raise ValueError("a metric needs exactly one of: provider, comparison, sequential")
        # Argo Rollouts' rules: a limit the count cannot reach makes the outcome a foregone
        # success, and repeated measurements need an interval between them.
        if self.count is not None:
            for field, limit in (
                ("failureLimit", self.failure_limit),
                ("inconclusiveLimit", self.inconclusive_limit),
            ):
                if self.count < limit:
                    raise ValueError(f"count ({self.count}) must be >= {field} ({limit})")
            if self.count > 1 and self.interval is None:
                raise ValueError("interval must be set when count > 1")
        for field, text in (
            ("successCondition", self.success_condition),
            ("failureCondition", self.failure_condition),
        ):
            if text is not None:
                try:
                    # variables (`{{args.threshold}}`) are filled in at run time; a number
                    # stands in for them so the rest of the condition is checked now
                    parse_condition(VARIABLE.sub("0", text))
                except ExpressionError as exc:
                    raise ValueError(f"{field}: {exc}") from exc
        has_condition = self.success_condition is not None or self.failure_condition is not None
        if self.provider is not None and not has_condition:
            raise ValueError(
                "a metric needs successCondition or failureCondition: without one every "
                "measurement, even an empty one, would count as success"
            )
        if self.comparison is not None and has_condition:
            raise ValueError("a comparison metric is judged by its canaryConfig, not conditions")
        if self.sequential is not None:
            self._sequential_rules(has_condition)
        if (
            self.provider is not None
            and self.provider.prometheus is not None
            and not self.provider.prometheus.query
        ):
            raise ValueError("provider.prometheus.query is required")
        return self

    def _sequential_rules(self, has_condition: bool) -> None:
        if has_condition:
            raise ValueError("a sequential metric is judged by its evidence, not conditions")
        if self.interval is None:
            raise ValueError("interval must be set for a sequential metric: the time between looks")
        if self.count is not None and self.count < 2:
            raise ValueError(
                "count must be >= 2 for a sequential metric: the first look only starts counting"
            )
        if self.failure_limit != 0:
            raise ValueError(
                "failureLimit must be 0 for a sequential metric: the evidence reaching 1/alpha "
                "is the failure (set alpha to make it stricter or looser)"
            )

    @property
    def effective_count(self) -> int | None:
        """Measurements to take; None means until the run is terminated (interval, no count)."""
        if self.count is not None:
            return self.count
        return None if self.interval is not None else 1


class AnalysisTemplateSpec(SpecModel):
    """The reusable part: also written inline in a rollout's analysis step."""

    args: list[AnalysisArg] = Field(default_factory=list, max_length=MAX_LIST)
    metrics: list[Metric] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _names_and_variables(self) -> AnalysisTemplateSpec:
        for what, names in (
            ("args", [a.name for a in self.args]),
            ("metrics", [m.name for m in self.metrics]),
        ):
            if twice := duplicated(names):
                raise ValueError(f"{what}: duplicate names: {', '.join(twice)}")
        declared = {arg.name for arg in self.args}
        for index, metric in enumerate(self.metrics):
            data = metric.model_dump(by_alias=True, exclude_none=True)
            for path, text in strings_in(data, f"metrics[{index}]"):
                for variable in variables_in(text):
                    name = variable.removeprefix(ARGS_PREFIX)
                    if variable.startswith(ARGS_PREFIX) and name not in declared:
                        raise ValueError(f"{path}: {{{{{variable}}}}} names an undeclared argument")
        return self

    def metric(self, name: str) -> Metric:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(name)


class AnalysisTemplate(SpecModel):
    api_version: Literal["serinus.io/v1alpha1"]
    kind: Literal["AnalysisTemplate"]
    metadata: Metadata
    spec: AnalysisTemplateSpec

    _plain = model_validator(mode="before")(plain_document)

    @property
    def name(self) -> str:
        return self.metadata.name


def load_template(text: str | bytes, source: str = "analysis template") -> AnalysisTemplate:
    """Parse YAML/JSON text; errors name the field path (e.g. `spec.metrics[0].count`)."""
    data = parse_text(text, source)
    if not isinstance(data, dict):
        raise InvalidInput(
            ["(document): expected a mapping with apiVersion, kind, metadata, spec"], source
        )
    return validate_model(AnalysisTemplate, data, source)
