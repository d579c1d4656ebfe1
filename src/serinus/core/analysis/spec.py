"""AnalysisTemplate documents: metrics, their providers and conditions, as validated models.

The shape follows Argo Rollouts' AnalysisTemplate (`args`, `metrics[]` with `interval`, `count`,
`initialDelay`, `failureLimit`, `inconclusiveLimit`, `consecutiveErrorLimit`, `successCondition`,
`failureCondition`, `dryRun`, and exactly one `provider`), so users find what they know. Everything
that can be checked without running is checked here, so `serinus lint` rejects it:

- conditions are parsed by the safe expression language (errors show the position);
- a measured metric needs at least one condition: with none, a measurement would count as success
  whatever (or however little) it returned;
- `{{args.NAME}}` variables must name a declared argument (other `{{x.y}}` variables, such as
  `{{canary.selector}}`, are supplied by the engine at run time);
- the JSONPath of a web metric must be in the supported subset.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from serinus.core.analysis.expressions import ExpressionError, parse_condition
from serinus.core.analysis.jsonpath import JsonPathError, parse_json_path
from serinus.core.analysis.templating import (
    ARGS_PREFIX,
    VARIABLE,
    strings_in,
    variables_in,
)
from serinus.core.documents import parse_text, validate_model
from serinus.core.errors import InvalidInput
from serinus.core.judge.canary_config import CanaryAnalysis, JudgeConfigurations
from serinus.core.notification_spec import SecretRef
from serinus.core.spec_base import (
    DNS_LABEL,
    MAX_COUNT,
    MAX_LIST,
    Command,
    Count,
    Duration,
    EnvMap,
    EnvName,
    FilePath,
    HeaderName,
    Line,
    Metadata,
    PositiveDuration,
    SpecModel,
    Text,
    Url,
    _exactly_one,
    duplicated,
    free_form,
    json_data_problem,
    plain_document,
)

TEMPLATE_KIND = "AnalysisTemplate"
NAME_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
ARG_PATTERN = r"^[A-Za-z_][-A-Za-z0-9_]*$"
# Prometheus refuses range queries of more than 11,000 points per series.
MAX_RANGE_POINTS = 11_000


class AnalysisArg(SpecModel):
    """A template argument; without `value` the caller must supply it."""

    name: str = Field(pattern=ARG_PATTERN, max_length=63)
    value: Text | None = None


# --- providers ---------------------------------------------------------------------------------


class FromEnv(SpecModel):
    """A secret read from the environment of the process that measures (never stored in specs)."""

    env: EnvName


class BasicAuth(SpecModel):
    username: Line = Field(min_length=1)
    password_from: FromEnv


class PrometheusAuthentication(SpecModel):
    bearer_token_from: FromEnv | None = None
    basic: BasicAuth | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PrometheusAuthentication:
        _exactly_one(self, "authentication")
        return self


class TlsOptions(SpecModel):
    insecure_skip_verify: bool = False
    ca_file: FilePath | None = None


class PrometheusRange(SpecModel):
    """A range query over [now - start, now - end] every `step` (durations before now)."""

    start: PositiveDuration
    end: Duration = 0.0
    step: PositiveDuration

    @model_validator(mode="after")
    def _sensible(self) -> PrometheusRange:
        if self.end >= self.start:
            raise ValueError("range.end must be more recent (smaller) than range.start")
        if (self.start - self.end) / self.step > MAX_RANGE_POINTS:
            raise ValueError(f"range gives more than {MAX_RANGE_POINTS} points; raise the step")
        return self


class PrometheusSource(SpecModel):
    """A PromQL query; every sample of every returned series is one value of `result`."""

    address: Url
    query: Text = ""
    timeout: PositiveDuration = 10.0
    authentication: PrometheusAuthentication | None = None
    tls: TlsOptions = Field(default_factory=TlsOptions)
    range: PrometheusRange | None = None


class WebHeader(SpecModel):
    """A request header; a secret one (an API key) comes from `valueFrom`, never inline."""

    key: HeaderName
    value: Line = ""
    value_from: SecretRef | None = None

    @model_validator(mode="after")
    def _one_value(self) -> WebHeader:
        if self.value and self.value_from is not None:
            raise ValueError("give value or valueFrom, not both")
        return self


class WebSource(SpecModel):
    """An HTTP endpoint returning JSON; `jsonPath` selects the number(s)."""

    url: Url
    method: Literal["GET", "POST", "PUT"] = "GET"
    headers: list[WebHeader] = Field(default_factory=list, max_length=MAX_LIST)
    body: Text | None = None
    json_path: Line = "$"
    timeout: PositiveDuration = 10.0
    insecure: bool = False

    @model_validator(mode="after")
    def _valid_path(self) -> WebSource:
        try:
            parse_json_path(self.json_path)
        except JsonPathError as exc:
            raise ValueError(f"jsonPath: {exc}") from exc
        return self


class CommandSource(SpecModel):
    """A local command (no shell).

    `output: exitCode` (default): the measurement is `[1]` when it exits 0 and `[0]` otherwise,
    so conditions read `result[0] == 1`. `output: stdout`: it must exit 0 and print numbers
    (whitespace or comma separated, or a JSON number or list); a non-zero exit is an Error.
    """

    command: Command
    timeout: PositiveDuration = 30.0
    output: Literal["exitCode", "stdout"] = "exitCode"
    env: EnvMap = Field(default_factory=dict)


class JobSource(SpecModel):
    """A check run as a Kubernetes Job in the rollout's namespace (the cluster's `command`).

    `spec` is a batch/v1 JobSpec; its pods run under `serviceAccountName`. The measurement is
    `[1]` when the Job completes and `[0]` when it fails, so conditions read `result[0] == 1`;
    while it runs no measurement is recorded. A Job still running after `timeout` is an Error.
    """

    spec: dict[str, Any] = Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    service_account_name: str = Field(pattern=DNS_LABEL, max_length=63)
    timeout: PositiveDuration = 600.0

    @model_validator(mode="after")
    def _runnable(self) -> JobSource:
        free_form(self.spec)
        template = self.spec.get("template")
        pod = template.get("spec") if isinstance(template, dict) else None
        if not isinstance(pod, dict) or not isinstance(pod.get("containers"), list):
            raise ValueError("spec.template.spec.containers: a Job needs at least one container")
        if not pod["containers"]:
            raise ValueError("spec.template.spec.containers: a Job needs at least one container")
        if pod.get("restartPolicy", "Never") not in ("Never", "OnFailure"):
            raise ValueError("spec.template.spec.restartPolicy: a Job's is Never or OnFailure")
        for field in ("serviceAccountName", "serviceAccount"):
            if pod.get(field) not in (None, self.service_account_name):
                raise ValueError(
                    f"spec.template.spec.{field}: set provider.job.serviceAccountName instead"
                )
        return self


class Provider(SpecModel):
    prometheus: PrometheusSource | None = None
    web: WebSource | None = None
    command: CommandSource | None = None
    job: JobSource | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Provider:
        _exactly_one(self, "provider")
        return self

    @property
    def kind(self) -> str:
        """The registry key of the adapter that measures this source."""
        return _exactly_one(self, "provider")

    @property
    def source(self) -> SpecModel:
        source: SpecModel = getattr(self, self.kind)
        return source


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

    @model_validator(mode="after")
    def _consistent(self) -> Metric:
        if (self.provider is None) == (self.comparison is None):
            raise ValueError("a metric needs exactly one of: provider, comparison")
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
        if (
            self.provider is not None
            and self.provider.prometheus is not None
            and not self.provider.prometheus.query
        ):
            raise ValueError("provider.prometheus.query is required")
        return self

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
