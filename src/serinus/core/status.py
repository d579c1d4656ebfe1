"""What serinus persists about a rollout, and what it observes of the world each reconcile.

Status is immutable: `decide` returns a new one. It is stored as JSON (`to_storage` /
`from_storage`) by every StateStore, so it must stay serialisable and backward compatible.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from serinus.core.analysis.run import AnalysisRunState
from serinus.core.gates import GatePhase, GateState
from serinus.core.spec_base import StatusModel

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")


def other_color(color: Color) -> Color:
    return "green" if color == "blue" else "blue"


class Phase(StrEnum):
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    AWAITING_JUDGEMENT = "AwaitingJudgement"
    PROMOTING = "Promoting"
    SCALING_DOWN = "ScalingDown"
    COMPLETED = "Completed"
    ABORTED = "Aborted"
    FAILED = "Failed"


TERMINAL_PHASES = frozenset({Phase.COMPLETED, Phase.ABORTED, Phase.FAILED})


class Revision(StatusModel):
    version: str
    color: Color


class ScheduledTeardown(StatusModel):
    color: Color
    version: str
    due: float


class RollbackWindowState(StatusModel):
    """The previous version kept after completion for an instant undo (`rollbackWindow`).

    Its color runs `replicas` of `version` with weight 0 until `until`; `serinus undo` before
    then moves traffic back to it without provisioning. Not a teardown: the rollout is complete.
    """

    color: Color
    version: str
    replicas: int
    until: float


class RouterOutage(StatusModel):
    """The router could not be read since `since`: nothing advances, and past the progress
    deadline the rollout fails (its abort is carried out once the router answers)."""

    since: float
    error: str


class HeaderRouteState(StatusModel):
    name: str
    matches: list[dict[str, Any]]
    color: Color


class RolloutStatus(StatusModel):
    phase: Phase = Phase.PENDING
    message: str = ""
    stable: Revision | None = None
    canary: Revision | None = None
    step_index: int = 0
    step_started_at: float | None = None
    phase_since: float = 0.0
    rollout_started_at: float | None = None
    weights: dict[Color, int] = Field(default_factory=dict)  # desired; the router follows
    replicas: dict[Color, int] = Field(default_factory=dict)  # desired; the platform follows
    preview: Color | None = None
    mirror: int = 0  # percentage of requests copied to the canary
    ready: dict[Color, int] = Field(default_factory=dict)  # observed, for people reading status
    analysis: AnalysisRunState | None = None  # the current (or last) analysis step's run
    background_analysis: AnalysisRunState | None = None  # runs beside the steps
    header_routes: list[HeaderRouteState] = Field(default_factory=list)
    gates: list[GateState] = Field(default_factory=list)  # webhook gates of this rollout
    paused_by_user: bool = False
    teardowns: list[ScheduledTeardown] = Field(default_factory=list)
    previous_version: str | None = None
    rollback_window: RollbackWindowState | None = None
    router_outage: RouterOutage | None = None
    revision: int = 0
    # Whether the world matched this status when it was decided (weights read back as desired,
    # every color with weight ready, nothing left to scale down); what it waits for if not.
    converged: bool = False
    waiting_for: str = ""

    def to_storage(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_storage(cls, data: dict[str, Any]) -> RolloutStatus:
        return cls.model_validate(data)

    @property
    def terminal(self) -> bool:
        """Done: a final phase *and* a world that matches it ("done means converged")."""
        calling = any(gate.phase is GatePhase.PENDING for gate in self.gates)
        return (
            self.phase in TERMINAL_PHASES and not self.teardowns and self.converged and not calling
        )

    def version_of(self, color: Color) -> str | None:
        """The version a color should run: stable, canary, one waiting for its scale-down, or
        the previous version kept by an open rollback window."""
        for revision in (self.stable, self.canary):
            if revision is not None and revision.color == color:
                return revision.version
        for teardown in self.teardowns:
            if teardown.color == color:
                return teardown.version
        window = self.rollback_window
        if window is not None and window.color == color:
            return window.version
        return None


class Endpoint(StatusModel):
    host: str
    port: int
    ready: bool
    replica: int


class ColorState(StatusModel):
    """One color's replicas as the platform sees them now."""

    version: str | None = None
    desired: int = 0
    ready: int = 0
    endpoints: list[Endpoint] = Field(default_factory=list)
    failure: str | None = None  # why the version cannot run (e.g. its command exits)

    @property
    def exists(self) -> bool:
        return self.version is not None and self.desired > 0


class Observed(StatusModel):
    colors: dict[Color, ColorState] = Field(default_factory=dict)
    weights: dict[Color, int] | None = None  # as read back from the router
    analysis: AnalysisRunState | None = None  # the status's run, advanced by measurements
    background_analysis: AnalysisRunState | None = None
    gates: list[GateState] = Field(default_factory=list)  # gates the app has just called
    router_error: str | None = None  # the router could not be read (weights is then None)

    def color(self, color: Color) -> ColorState:
        return self.colors.get(color, ColorState())
