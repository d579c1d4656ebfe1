"""The Rollout document: what users write, as validated pydantic models.

Every model forbids unknown fields so a typo is an error naming its path, not a silently ignored
setting. Kinds that have several implementations (workload, traffic routing, strategy, step) are
"exactly one of" unions keyed by the field name, as in Argo Rollouts; the key is the kind string
the app's registry uses to pick an adapter.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from serinus.core.analysis.binding import binding_problems
from serinus.core.analysis.spec import ARG_PATTERN as ARG_NAME
from serinus.core.analysis.spec import TEMPLATE_KIND, AnalysisTemplate, AnalysisTemplateSpec
from serinus.core.documents import parse_text, validate_model
from serinus.core.errors import InvalidInput
from serinus.core.gates import Hook, Webhook
from serinus.core.notification_spec import Notifications
from serinus.core.routing_spec import GatewayApiRouting, IstioRouting, NginxRouting
from serinus.core.spec_base import (
    DNS_LABEL,
    MAX_LIST,
    MAX_MAP,
    MAX_NAME,
    SINGLE_LINE,
    Command,
    Duration,
    EnvMap,
    FilePath,
    HeaderName,
    Line,
    Metadata,
    Percent,
    Port,
    PositiveDuration,
    SpecModel,
    Text,
    UrlPath,
    _exactly_one,
    duplicated,
    keys_matching,
    plain_document,
)
from serinus.core.window_spec import RollbackWindow, window_problems
from serinus.core.workload_spec import MAX_REPLICAS, DeploymentWorkload, HelmWorkload

API_VERSION = "serinus.io/v1alpha1"
KIND = "Rollout"
MAX_STEPS = 200
MAX_TEMPLATES = 50
# An IPv4/IPv6 address or a host name as HAProxy's `bind` takes it, or `*` for every address.
BIND_ADDRESS = r"^(\*|[A-Za-z0-9][A-Za-z0-9.-]*|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$"
# A Unix socket path written into HAProxy's configuration: no spaces, quotes or '#'.
SOCKET_PATH = r"^[A-Za-z0-9_./+@~-]+$"
INPUT_NAME = r"^[A-Za-z_][-A-Za-z0-9_.]*$"
# A judgement option or a role: one line of text.
Label = Annotated[str, Field(min_length=1, max_length=253, pattern=SINGLE_LINE)]


# --- workloads ---------------------------------------------------------------------------------


class HttpCheck(SpecModel):
    path: UrlPath = "/healthz"
    timeout_seconds: PositiveDuration = 1.0
    period_seconds: PositiveDuration = 0.2


class Warmup(SpecModel):
    """Requests sent to each new replica before it gets any user traffic."""

    path: UrlPath = "/"
    requests: int = Field(default=20, ge=1, le=100_000, strict=True)


class ProcessWorkload(SpecModel):
    """N local processes per version; `{port}` and `{version}` are replaced in command and env."""

    command: Command
    replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS, strict=True)
    readiness: HttpCheck = Field(default_factory=HttpCheck)
    env: EnvMap = Field(default_factory=dict)
    warmup: Warmup | None = None
    working_dir: FilePath | None = None
    termination_grace_seconds: Duration = 5.0


class Workload(SpecModel):
    process: ProcessWorkload | None = None
    deployment: DeploymentWorkload | None = None
    helm: HelmWorkload | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Workload:
        _exactly_one(self, "workload")
        return self

    @property
    def kind(self) -> str:
        return _exactly_one(self, "workload")

    @property
    def replicas(self) -> int:
        if self.helm is not None:
            return self.helm.replica_count  # replicas, else values.replicaCount, else 1
        chosen = getattr(self, self.kind)
        return int(chosen.replicas)


# --- traffic routing ---------------------------------------------------------------------------


RetryOn = Literal[
    "conn-failure", "empty-response", "response-timeout", "junk-response", "0rtt-rejected",
    "404", "408", "425", "500", "501", "502", "503", "504",
]  # fmt: skip
DEFAULT_RETRY_ON: tuple[RetryOn, ...] = ("conn-failure", "empty-response", "response-timeout")


class HaproxyRouting(SpecModel):
    """A local HAProxy in front of the replicas; weights change through its admin socket."""

    bind_address: str = Field(
        default="127.0.0.1",
        max_length=MAX_NAME,
        pattern=BIND_ADDRESS,
        description="An IPv4 or IPv6 address, a host name, or `*`.",
    )
    port: Port = 8080
    preview_port: Port | None = None
    stats_port: Port | None = None
    attach: bool = Field(
        default=False, description="Use an HAProxy already running on the admin socket."
    )
    retry_on: list[RetryOn] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_ON),
        min_length=1,
        max_length=20,
        description="When HAProxy retries a request on another replica (its `retry-on`).",
    )
    admin_socket: FilePath | None = Field(
        default=None, pattern=SOCKET_PATH, description="A file path (no spaces or quotes)."
    )
    binary: FilePath = "haproxy"

    @model_validator(mode="after")
    def _distinct_ports(self) -> HaproxyRouting:
        ports = [p for p in (self.port, self.preview_port, self.stats_port) if p is not None]
        if len(set(ports)) != len(ports):
            raise ValueError("port, previewPort and statsPort must be different ports")
        return self


class TrafficRouting(SpecModel):
    haproxy: HaproxyRouting | None = None
    istio: IstioRouting | None = None
    # Explicit alias: the generator would spell it gatewayApi; Argo Rollouts users write gatewayAPI.
    gateway_api: GatewayApiRouting | None = Field(default=None, alias="gatewayAPI")
    nginx: NginxRouting | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TrafficRouting:
        _exactly_one(self, "trafficRouting")
        return self

    @property
    def kind(self) -> str:
        return _exactly_one(self, "trafficRouting")


# --- steps -------------------------------------------------------------------------------------


class Pause(SpecModel):
    """Timed when `duration` is set; otherwise waits for `promote`."""

    duration: Duration | None = None


class JudgementInput(SpecModel):
    name: str = Field(min_length=1, max_length=63, pattern=INPUT_NAME)
    options: list[Label] = Field(default_factory=list, max_length=MAX_LIST)
    required: bool = False


class Judgement(SpecModel):
    instructions: Text = ""
    inputs: list[JudgementInput] = Field(default_factory=list, max_length=20)
    timeout: Duration | None = None
    on_timeout: Literal["abort", "continue"] = "abort"
    required_roles: list[Label] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _unique_inputs(self) -> Judgement:
        if twice := duplicated([item.name for item in self.inputs]):
            raise ValueError(f"inputs: duplicate names: {', '.join(twice)}")
        return self


class HeaderValue(SpecModel):
    exact: Line | None = None
    prefix: Line | None = None
    regex: Line | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> HeaderValue:
        _exactly_one(self, "headerValue")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"invalid regex: {exc}") from exc
        return self


class HeaderMatch(SpecModel):
    header_name: HeaderName
    header_value: HeaderValue


class SetHeaderRoute(SpecModel):
    """Requests matching every header go to the canary; no `match` removes the route."""

    name: str = Field(pattern=DNS_LABEL, max_length=63)
    match: list[HeaderMatch] = Field(default_factory=list, max_length=20)


class AnalysisStep(SpecModel):
    """Run analysis templates (named in `spec.analysisTemplates`) and wait for the outcome:
    Successful continues, Failed or Error aborts, Inconclusive waits for a person's judgement."""

    templates: list[Annotated[str, Field(pattern=DNS_LABEL, max_length=MAX_NAME)]] = Field(
        min_length=1, max_length=20
    )
    args: Annotated[dict[str, Text], keys_matching(ARG_NAME, "an argument name")] = Field(
        default_factory=dict, max_length=MAX_MAP
    )


class NamedAnalysisTemplate(AnalysisTemplateSpec):
    name: str = Field(pattern=DNS_LABEL, max_length=MAX_NAME)


class SetMirror(SpecModel):
    """Copy `percentage`% of the requests to the canary (responses discarded) to warm it up with
    real traffic before it serves users; 0 stops mirroring."""

    percentage: Percent


MIRRORING_ROUTERS = frozenset({"istio"})


class Step(SpecModel):
    set_weight: Percent | None = None
    pause: Pause | None = None
    judgement: Judgement | None = None
    set_header_route: SetHeaderRoute | None = None
    analysis: AnalysisStep | None = None
    set_mirror: SetMirror | None = None
    webhook: Webhook | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        _exactly_one(self, "step")
        return self

    @property
    def kind(self) -> str:
        return _exactly_one(self, "step")


# --- strategies --------------------------------------------------------------------------------


class BackgroundAnalysis(AnalysisStep):
    """Analysis running beside the steps from `startingStep` until promotion; a failure aborts
    at any step, an inconclusive outcome pauses the rollout for a person."""

    starting_step: int = Field(default=0, ge=0, le=MAX_STEPS, strict=True)


class BlueGreenCanary(SpecModel):
    """The seed's strategy: green at full size beside blue, then the steps, then promote."""

    steps: list[Step] = Field(default_factory=list, max_length=MAX_STEPS)
    analysis: BackgroundAnalysis | None = None
    scale_down_delay: Duration = 30.0
    abort_scale_down_delay: Duration = 30.0
    rollback_window: RollbackWindow | None = None
    hooks: list[Hook] = Field(default_factory=list, max_length=MAX_LIST)


class Canary(SpecModel):
    """Green's replicas follow its weight; blue stays at full size until promotion."""

    steps: list[Step] = Field(default_factory=list, max_length=MAX_STEPS)
    analysis: BackgroundAnalysis | None = None
    scale_down_delay: Duration = 30.0
    abort_scale_down_delay: Duration = 30.0
    rollback_window: RollbackWindow | None = None
    hooks: list[Hook] = Field(default_factory=list, max_length=MAX_LIST)


class BlueGreen(SpecModel):
    """Green at full size with no user traffic (preview only), then a switch 0 -> 100."""

    auto_promotion: bool = True
    auto_promotion_seconds: Duration = 0.0
    scale_down_delay: Duration = 30.0
    abort_scale_down_delay: Duration = 30.0
    rollback_window: RollbackWindow | None = None
    hooks: list[Hook] = Field(default_factory=list, max_length=MAX_LIST)


class RollingUpdate(SpecModel):
    """Replace replicas a few at a time, as a Kubernetes Deployment does (the baseline)."""

    max_surge: int = Field(default=1, ge=0, le=MAX_REPLICAS, strict=True)
    max_unavailable: int = Field(default=0, ge=0, le=MAX_REPLICAS, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_window(cls, data: object) -> object:
        if isinstance(data, dict) and "rollbackWindow" in data:
            raise ValueError(
                "rollbackWindow: a rolling update replaces the replicas in place, so no previous "
                "version is kept to go back to; use blueGreenCanary, canary or blueGreen"
            )
        return data

    @model_validator(mode="after")
    def _can_progress(self) -> RollingUpdate:
        if self.max_surge == 0 and self.max_unavailable == 0:
            raise ValueError("maxSurge and maxUnavailable cannot both be 0")
        return self


class Strategy(SpecModel):
    blue_green_canary: BlueGreenCanary | None = None
    canary: Canary | None = None
    blue_green: BlueGreen | None = None
    rolling_update: RollingUpdate | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Strategy:
        _exactly_one(self, "strategy")
        return self

    @property
    def kind(self) -> str:
        return _exactly_one(self, "strategy")


# --- the document ------------------------------------------------------------------------------


class RolloutSpec(SpecModel):
    workload: Workload
    version: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
    strategy: Strategy
    traffic_routing: TrafficRouting
    progress_deadline_seconds: PositiveDuration = 600.0
    notifications: Notifications | None = None
    analysis_templates: list[NamedAnalysisTemplate] = Field(
        default_factory=list, max_length=MAX_TEMPLATES
    )

    @model_validator(mode="after")
    def _consistent(self) -> RolloutSpec:
        names = [template.name for template in self.analysis_templates]
        if len(set(names)) != len(names):
            raise ValueError("analysisTemplates: template names must be unique")
        strategy = f"strategy.{self.strategy.kind}"
        steps = steps_of(self.strategy)
        uses = [
            (f"{strategy}.steps[{index}].analysis", step.analysis)
            for index, step in enumerate(steps)
            if step.analysis is not None
        ]
        for index, step in enumerate(steps):
            if step.set_mirror is not None and self.traffic_routing.kind not in MIRRORING_ROUTERS:
                raise ValueError(
                    f"{strategy}.steps[{index}].setMirror: the {self.traffic_routing.kind} "
                    f"router cannot mirror traffic (only {', '.join(sorted(MIRRORING_ROUTERS))} "
                    "can)"
                )
        if (background := background_analysis_of(self.strategy)) is not None:
            if background.starting_step > 0 and background.starting_step >= len(steps):
                raise ValueError(
                    f"{strategy}.analysis.startingStep: {background.starting_step} is past the "
                    f"last step (there are {len(steps)}); the analysis would never start"
                )
            uses.append((f"{strategy}.analysis", background))
        problems = window_problems(strategy, window_of(self.strategy), self.workload.replicas)
        hook_names = [(hook.type, hook.name) for hook in hooks_of(self.strategy)]
        for kind, name in sorted(set(h for h in hook_names if hook_names.count(h) > 1)):
            problems.append(f"{strategy}.hooks: two {kind} hooks are named {name!r}")
        for where, analysis in uses:
            missing = [name for name in analysis.templates if name not in names]
            for name in missing:
                problems.append(
                    f"{where}.templates: {name!r} is not in "
                    f"spec.analysisTemplates ({', '.join(names) or 'none defined'})"
                )
            if not missing:
                problems += binding_problems(
                    where, analysis.templates, analysis.args, self.analysis_templates, names
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Rollout(SpecModel):
    api_version: Literal["serinus.io/v1alpha1"]
    kind: Literal["Rollout"]
    metadata: Metadata
    spec: RolloutSpec

    # The same limits as `documents.parse_text`, for documents that do not come from text
    # (the operator reads them from the API server).
    _plain = model_validator(mode="before")(plain_document)

    @property
    def name(self) -> str:
        return self.metadata.name

    def with_version(self, version: str) -> Rollout:
        return self.model_copy(update={"spec": self.spec.model_copy(update={"version": version})})


def steps_of(strategy: Strategy) -> list[Step]:
    """The steps a strategy runs; blueGreen and rollingUpdate have none of their own."""
    chosen = strategy.blue_green_canary or strategy.canary
    return list(chosen.steps) if chosen is not None else []


def hooks_of(strategy: Strategy) -> list[Hook]:
    """The strategy's webhook hooks; rollingUpdate has none."""
    chosen = strategy.blue_green_canary or strategy.canary or strategy.blue_green
    return list(chosen.hooks) if chosen is not None else []


def window_of(strategy: Strategy) -> RollbackWindow | None:
    """The strategy's rollback window; rollingUpdate has none."""
    chosen = strategy.blue_green_canary or strategy.canary or strategy.blue_green
    return chosen.rollback_window if chosen is not None else None


def background_analysis_of(strategy: Strategy) -> BackgroundAnalysis | None:
    chosen = strategy.blue_green_canary or strategy.canary
    return chosen.analysis if chosen is not None else None


def load_document(text: str | bytes, source: str) -> Rollout | AnalysisTemplate:
    """What `serinus lint` validates: a Rollout, or an AnalysisTemplate by its `kind`.

    Raises InvalidInput (one `path: problem` line per problem) for anything else, the text
    itself included: encoding, size, nesting (see `documents.parse_text`).
    """
    data = parse_text(text, source)
    if not isinstance(data, dict):
        problem = "(document): expected a mapping with apiVersion, kind, metadata, spec"
        raise InvalidInput([problem], source)
    if data.get("kind") == TEMPLATE_KIND:
        return validate_model(AnalysisTemplate, data, source)
    return validate_model(Rollout, data, source)
