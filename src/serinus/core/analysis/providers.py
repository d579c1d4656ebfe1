"""Metric providers of an AnalysisTemplate: where a measurement's numbers come from.

One model per provider kind (`prometheus`, `web`, `command`, `job`), with Argo Rollouts' field
names; `Provider` holds exactly one of them, and its `kind` is the key of the adapter that
measures it. Validation that needs no network happens here, so `serinus lint` rejects it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from serinus.core.analysis.jsonpath import JsonPathError, parse_json_path
from serinus.core.notification_spec import SecretRef
from serinus.core.spec_base import (
    DNS_LABEL,
    MAX_LIST,
    Command,
    Duration,
    EnvMap,
    EnvName,
    FilePath,
    HeaderName,
    Line,
    PositiveDuration,
    SpecModel,
    Text,
    Url,
    _exactly_one,
    free_form,
)

# Prometheus refuses range queries of more than 11,000 points per series.
MAX_RANGE_POINTS = 11_000


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
