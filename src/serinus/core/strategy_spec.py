"""The strategy part of a Rollout: the steps (setWeight, pause, judgement, analysis, header
routes, mirroring, webhooks) and the strategies that run them, with their delays, hooks and
rollback window. `serinus.core.spec` re-exports these names; the document itself lives there.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from serinus.core.analysis.spec import ARG_PATTERN as ARG_NAME
from serinus.core.analysis.spec import AnalysisTemplateSpec
from serinus.core.gates import Hook, Webhook
from serinus.core.spec_base import (
    DNS_LABEL,
    MAX_LIST,
    MAX_MAP,
    MAX_NAME,
    SINGLE_LINE,
    Duration,
    HeaderName,
    Line,
    Percent,
    SpecModel,
    Text,
    _exactly_one,
    duplicated,
    keys_matching,
)
from serinus.core.window_spec import RollbackWindow
from serinus.core.workload_spec import MAX_REPLICAS

MAX_STEPS = 200
INPUT_NAME = r"^[A-Za-z_][-A-Za-z0-9_.]*$"
# A judgement option or a role: one line of text.
Label = Annotated[str, Field(min_length=1, max_length=253, pattern=SINGLE_LINE)]


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
