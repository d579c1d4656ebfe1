"""The API's request and response bodies (camelCase on the wire, like the Rollout document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

MAX_COMMENT = 2000
MAX_INPUT_VALUE = 500


class ApiModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, alias_generator=to_camel)


class RequestModel(ApiModel):
    # A misspelt field is an error naming it, not an ignored setting.
    model_config = ConfigDict(populate_by_name=True, alias_generator=to_camel, extra="forbid")


# --- requests ----------------------------------------------------------------------------------


class OperationRequest(RequestModel):
    comment: str = Field(default="", max_length=MAX_COMMENT, description="Why; kept in the audit.")


REVISION = (
    "The rollout's revision (`status.revision`) the decision was made on; a rollout that has "
    "moved to another revision is refused with 409 saying what changed."
)
STEP = "The index of the step the decision was made on (0-based, `judgement.step`); see revision."


class PromoteRequest(OperationRequest):
    full: bool = Field(default=False, description="Skip every remaining step and analysis.")
    revision: int | None = Field(default=None, ge=0, description=REVISION + " Optional.")
    step: int | None = Field(default=None, ge=0, description=STEP + " Optional.")


class JudgeRequest(RequestModel):
    approve: bool = Field(description="true continues the rollout, false stops it (abort).")
    revision: int = Field(ge=0, description=REVISION + " Required.")
    step: int = Field(ge=0, description=STEP + " Required.")
    inputs: dict[str, str] = Field(
        default_factory=dict, description="The judgement's inputs by name.", max_length=50
    )
    comment: str = Field(default="", max_length=MAX_COMMENT)


# --- responses ---------------------------------------------------------------------------------


class ErrorResponse(ApiModel):
    detail: str
    problems: list[str] = Field(default_factory=list)


class Whoami(ApiModel):
    name: str
    roles: list[str] = Field(description="Roles from the tokens file (none under Kubernetes).")
    groups: list[str] = Field(default_factory=list, description="Kubernetes groups, if any.")


class StepPosition(ApiModel):
    index: int
    total: int
    description: str


StepState = Literal["done", "current", "failed", "pending"]


class StepView(ApiModel):
    index: int
    kind: str
    description: str
    state: StepState = Field(description="`failed`: the step the rollout was aborted or failed at.")
    started_at: float | None = Field(default=None, description="When the current step began.")
    pause_seconds: float | None = Field(default=None, description="A timed pause's duration.")


class ColorView(ApiModel):
    color: str
    version: str | None
    role: Literal["stable", "canary", "preview", "old", "kept"] = Field(
        description="preview: a blue-green canary reached only at the preview address; old: "
        "scaling down; kept: the previous version a rollback window keeps."
    )
    weight: int
    desired: int
    ready: int


class JudgementInputView(ApiModel):
    name: str
    options: list[str]
    required: bool


class JudgementView(ApiModel):
    step: int
    revision: int = Field(description="Send it back with the decision, with `step`.")
    instructions: str
    instructions_html: str = Field(description="Sanitized HTML rendered from the instructions.")
    inputs: list[JudgementInputView]
    required_roles: list[str]
    timeout_seconds: float | None
    on_timeout: str
    waiting_since: float
    step_started_at: float | None = Field(description="When the judgement step began.")
    approve_effect: str = Field(description="What approving does, in words.")
    reject_effect: str = Field(description="What rejecting does, in words.")
    can_judge: bool
    cannot_judge_reason: str | None = None


class RolloutSummary(ApiModel):
    name: str
    namespace: str
    version: str
    strategy: str
    phase: str | None
    message: str
    step: StepPosition | None
    weights: dict[str, int] = Field(description="Share of traffic per version, in percent.")
    colors: list[ColorView]


class PreviewView(ApiModel):
    """The blue-green preview: the new version reached at its own address, no user traffic."""

    version: str
    color: str
    url: str | None = Field(
        description="Where people reach it (HAProxy's preview port); null: through the "
        "router's preview entry (e.g. a preview Service)."
    )


class RollbackWindowView(ApiModel):
    """The previous version kept after completion: undo moves traffic back at once."""

    version: str
    color: str
    replicas: int = Field(description="Replicas kept (at weight 0).")
    full_replicas: int = Field(description="The rollout's full size.")
    ready: int
    until: float = Field(description="When the window closes and the version is torn down.")


class RolloutDetail(RolloutSummary):
    status: dict[str, Any] | None
    steps: list[StepView]
    judgement: JudgementView | None
    preview: PreviewView | None = None
    rollback_window: RollbackWindowView | None = None
    allowed_operations: list[str] = Field(
        description="Operations the caller's roles permit and the rollout's phase accepts now."
    )
    notification_failures: list[dict[str, Any]] = Field(default_factory=list)


class EventView(ApiModel):
    type: str
    message: str
    at: float
    severity: str
    data: dict[str, Any]


class AuditEntry(ApiModel):
    id: int
    kind: str
    actor: str
    groups: list[str] = Field(default_factory=list, description="The caller's Kubernetes groups.")
    source: str
    at: float
    approve: bool | None
    inputs: dict[str, str]
    comment: str
    outcome: str | None
    revision: int | None = Field(default=None, description="The revision the operation was on.")
    step: int | None = Field(default=None, description="The step index the operation was on.")


class MetricSpecView(ApiModel):
    """What a metric measures and how it is judged, as the template says."""

    name: str
    provider: str | None = Field(description="The provider kind: prometheus, web, command, job.")
    query: str = Field(description="The query, URL or command; baseline and canary for a judge.")
    success_condition: str | None
    failure_condition: str | None
    threshold: float | None = Field(
        description="The number a simple condition (`result[0] < 0.5`) compares against."
    )
    unit: str = Field(description="A unit guessed from the metric's name or query, if any.")
    interval_seconds: float | None
    count: int | None
    failure_limit: int
    judge: dict[str, Any] | None = Field(
        description="A comparison's judge thresholds, or a sequential metric's kind, alpha, "
        "boundary (1/alpha), minSamples and what it counts (errors or slow requests)."
    )


class AnalysisView(ApiModel):
    runs: list[dict[str, Any]] = Field(
        description="Analysis runs found in the status, each with its metrics and measurements, "
        "and a `title` naming the step as the timeline numbers it (`step 2: analysis errors`)."
    )
    metrics: list[MetricSpecView] = Field(
        default_factory=list, description="Every metric of the rollout's analysis templates."
    )
    events: list[EventView] = Field(description="Events about analyses.")
