"""The decision being built: the status as it changes during one `decide`, and what it emits.

Every part of the state machine (operations, version changes, steps, convergence) works on one
`Builder`; `decide` turns it into the immutable `Decision` the engine performs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from serinus.core.actions import Action
from serinus.core.events import Event, EventType
from serinus.core.intents import Intent
from serinus.core.spec import RolloutSpec, Step
from serinus.core.status import (
    COLORS,
    Color,
    Observed,
    Phase,
    Revision,
    RolloutStatus,
    ScheduledTeardown,
)
from serinus.core.strategy.plan import Plan


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    actions: list[Action]
    events: list[Event]
    consumed: list[Intent]
    wake_at: float | None  # the next moment something timed is due (pause, timeout, teardown)


@dataclass
class Builder:
    spec: RolloutSpec
    name: str
    status: RolloutStatus
    observed: Observed
    plan: Plan
    now: float
    deadline: float
    events: list[Event] = field(default_factory=list)
    consumed: list[Intent] = field(default_factory=list)
    route_actions: list[Action] = field(default_factory=list)
    wake_at: float | None = None
    # Teardowns already in the persisted status: only these are carried out, so a teardown is
    # performed only once its record is stored (a failed save then repeats it, never undoes it).
    recorded_teardowns: tuple[ScheduledTeardown, ...] = ()

    def update(self, **changes: Any) -> None:
        self.status = self.status.model_copy(update=changes)

    def enter(self, phase: Phase, message: str = "") -> bool:
        changed = self.status.phase != phase
        if changed:
            self.update(phase=phase, phase_since=self.now, message=message)
        elif message != self.status.message:
            self.update(message=message)
        return changed

    def emit(self, kind: EventType, message: str, **data: Any) -> None:
        self.events.append(Event(type=kind, message=message, at=self.now, data=data))

    def set_weights(self, weights: dict[Color, int]) -> None:
        """Change the desired weights; a WeightsChanged event says so when they differ."""
        before = {color: self.status.weights.get(color, 0) for color in COLORS}
        self.update(weights=weights)
        after = {color: weights.get(color, 0) for color in COLORS}
        if before == after:
            return
        stable = self.status.stable
        # The version leaving or arriving first, then stable, as the promotion's event reads.
        order = sorted(COLORS, key=lambda c: stable is not None and c == stable.color)
        shares = {
            version: after[color]
            for color in order
            if (version := self.status.version_of(color)) is not None
        }
        self.emit(
            EventType.WEIGHTS_CHANGED,
            " / ".join(f"{version} {weight}%" for version, weight in shares.items()),
            weights=shares,
        )

    def wake(self, at: float) -> None:
        self.wake_at = at if self.wake_at is None else min(self.wake_at, at)

    def consume(self, intent: Intent, outcome: str) -> None:
        self.consumed.append(intent.model_copy(update={"outcome": outcome}))

    @property
    def stable(self) -> Revision:
        assert self.status.stable is not None
        return self.status.stable

    @property
    def canary(self) -> Revision:
        assert self.status.canary is not None
        return self.status.canary

    def current_step(self) -> Step | None:
        index = self.status.step_index
        return self.plan.steps[index] if 0 <= index < len(self.plan.steps) else None

    def advance(self, message: str = "") -> None:
        """The current step is done: start the next one now."""
        index = self.status.step_index
        self.emit(
            EventType.STEP_COMPLETED,
            f"step {index + 1}/{len(self.plan.steps)} done" + (f": {message}" if message else ""),
            step=index,
        )
        self.update(step_index=index + 1, step_started_at=self.now)
        self.enter(Phase.PROGRESSING)
