"""Events: what happened to a rollout, for history, live views and notifications."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    ROLLOUT_STARTED = "RolloutStarted"
    STEP_STARTED = "StepStarted"
    STEP_COMPLETED = "StepCompleted"
    WEIGHTS_CHANGED = "WeightsChanged"
    HEADER_ROUTE_CHANGED = "HeaderRouteChanged"
    PAUSED = "Paused"
    RESUMED = "Resumed"
    AWAITING_JUDGEMENT = "AwaitingJudgement"
    JUDGED = "Judged"
    PROMOTED = "Promoted"
    COMPLETED = "Completed"
    ABORTED = "Aborted"
    RETRIED = "Retried"
    FAILED = "Failed"
    SCALED_DOWN = "ScaledDown"
    OPERATION_REJECTED = "OperationRejected"
    ANALYSIS_STARTED = "AnalysisStarted"
    ANALYSIS_SUCCESSFUL = "AnalysisSuccessful"
    ANALYSIS_FAILED = "AnalysisFailed"
    ANALYSIS_INCONCLUSIVE = "AnalysisInconclusive"
    GATE_PASSED = "GatePassed"  # a webhook gate answered 2xx
    GATE_HELD = "GateHeld"  # it did not; called again after its interval
    GATE_FAILED = "GateFailed"  # it did not and will not be called again
    ROLLBACK_WINDOW_OPENED = "RollbackWindowOpened"  # the previous version kept after completion
    ROLLBACK_WINDOW_CLOSED = "RollbackWindowClosed"
    ROLLED_BACK = "RolledBack"  # an undo within the rollback window
    ROUTER_UNREACHABLE = "RouterUnreachable"
    ROUTER_REACHABLE = "RouterReachable"


class Severity(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


SEVERITY_OF: dict[EventType, Severity] = {
    EventType.COMPLETED: Severity.SUCCESS,
    EventType.PROMOTED: Severity.SUCCESS,
    EventType.AWAITING_JUDGEMENT: Severity.WARNING,
    EventType.PAUSED: Severity.WARNING,
    EventType.OPERATION_REJECTED: Severity.WARNING,
    EventType.ABORTED: Severity.ERROR,
    EventType.FAILED: Severity.ERROR,
    EventType.ANALYSIS_FAILED: Severity.ERROR,
    EventType.ANALYSIS_INCONCLUSIVE: Severity.WARNING,
    EventType.ANALYSIS_SUCCESSFUL: Severity.SUCCESS,
    EventType.GATE_HELD: Severity.WARNING,
    EventType.GATE_FAILED: Severity.ERROR,
    EventType.ROLLED_BACK: Severity.WARNING,
    EventType.ROUTER_UNREACHABLE: Severity.ERROR,
}


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: EventType
    message: str
    at: float
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        if self.type is EventType.JUDGED and not self.data.get("approved", True):
            return Severity.ERROR
        return SEVERITY_OF.get(self.type, Severity.INFO)
