"""The Rollout document: what users write, as validated pydantic models.

Every model forbids unknown fields so a typo is an error naming its path, not a silently ignored
setting. Kinds that have several implementations (workload, traffic routing, strategy, step) are
"exactly one of" unions keyed by the field name, as in Argo Rollouts; the key is the kind string
the app's registry uses to pick an adapter.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from serinus.core.analysis.binding import binding_problems
from serinus.core.analysis.spec import TEMPLATE_KIND, AnalysisTemplate
from serinus.core.documents import parse_text, validate_model
from serinus.core.errors import InvalidInput
from serinus.core.notification_spec import Notifications
from serinus.core.routing_spec import GatewayApiRouting, IstioRouting, NginxRouting
from serinus.core.spec_base import (
    MAX_NAME,
    Command,
    Duration,
    EnvMap,
    FilePath,
    Metadata,
    Port,
    PositiveDuration,
    SpecModel,
    UrlPath,
    _exactly_one,
    plain_document,
)
from serinus.core.strategy_spec import MAX_STEPS as MAX_STEPS
from serinus.core.strategy_spec import MIRRORING_ROUTERS as MIRRORING_ROUTERS
from serinus.core.strategy_spec import AnalysisStep as AnalysisStep
from serinus.core.strategy_spec import BackgroundAnalysis as BackgroundAnalysis
from serinus.core.strategy_spec import BlueGreen as BlueGreen
from serinus.core.strategy_spec import BlueGreenCanary as BlueGreenCanary
from serinus.core.strategy_spec import Canary as Canary
from serinus.core.strategy_spec import HeaderMatch as HeaderMatch
from serinus.core.strategy_spec import Judgement as Judgement
from serinus.core.strategy_spec import NamedAnalysisTemplate as NamedAnalysisTemplate
from serinus.core.strategy_spec import Pause as Pause
from serinus.core.strategy_spec import RollingUpdate as RollingUpdate
from serinus.core.strategy_spec import SetHeaderRoute as SetHeaderRoute
from serinus.core.strategy_spec import Step as Step
from serinus.core.strategy_spec import Strategy as Strategy
from serinus.core.strategy_spec import background_analysis_of as background_analysis_of
from serinus.core.strategy_spec import hooks_of as hooks_of
from serinus.core.strategy_spec import steps_of as steps_of
from serinus.core.strategy_spec import window_of as window_of
from serinus.core.window_spec import window_problems
from serinus.core.workload_spec import MAX_REPLICAS, DeploymentWorkload, HelmWorkload

API_VERSION = "serinus.io/v1alpha1"
KIND = "Rollout"
MAX_TEMPLATES = 50
# An IPv4/IPv6 address or a host name as HAProxy's `bind` takes it, or `*` for every address.
BIND_ADDRESS = r"^(\*|[A-Za-z0-9][A-Za-z0-9.-]*|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$"
# A Unix socket path written into HAProxy's configuration: no spaces, quotes or '#'.
SOCKET_PATH = r"^[A-Za-z0-9_./+@~-]+$"


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
