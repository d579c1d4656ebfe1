"""A pure simulated world for strategy tests: applies actions the way real adapters would."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from serinus.core.actions import (
    Action,
    EnsureVersion,
    RemoveHeaderRoute,
    SetHeaderRoute,
    SetMirror,
    SetPreview,
    SetWeights,
    TearDown,
)
from serinus.core.analysis.run import AnalysisRunState
from serinus.core.documents import validate_model
from serinus.core.intents import Intent, IntentKind
from serinus.core.spec import Rollout
from serinus.core.status import Color, ColorState, Observed, RolloutStatus
from serinus.core.strategy.machine import Decision, decide


def make_rollout(
    strategy: dict[str, Any], version: str = "v1", replicas: int = 3, **spec: Any
) -> Rollout:
    return validate_model(
        Rollout,
        {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web"},
            "spec": {
                "version": version,
                "workload": {"process": {"command": ["app", "{port}"], "replicas": replicas}},
                "trafficRouting": spec.pop("trafficRouting", {"haproxy": {}}),
                "strategy": strategy,
                "progressDeadlineSeconds": 60,
                **spec,
            },
        },
        "test",
    )


@dataclass
class World:
    """Replicas become ready when `ready_on_ensure` (else through `make_ready`)."""

    rollout: Rollout
    now: float = 1000.0
    ready_on_ensure: bool = True
    colors: dict[Color, ColorState] = field(default_factory=dict)
    weights: dict[Color, int] | None = None
    header_routes: dict[str, Color] = field(default_factory=dict)
    preview: Color | None = None
    mirror: tuple[Color | None, int] = (None, 0)
    status: RolloutStatus | None = None
    intents: list[Intent] = field(default_factory=list)
    log: list[Action] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    analysis: AnalysisRunState | None = None  # what the engine's measurements made of the run
    background_analysis: AnalysisRunState | None = None
    router_error: str | None = None  # the router cannot be read (nor written) while set

    def observed(self) -> Observed:
        return Observed(
            colors=dict(self.colors),
            weights=None if self.router_error is not None else self.weights,
            analysis=self.analysis,
            background_analysis=self.background_analysis,
            router_error=self.router_error,
        )

    def step(self, advance: float = 0.0) -> Decision:
        self.now += advance
        decision = decide(self.rollout, self.status, self.observed(), self.intents, self.now)
        for action in decision.actions:
            self.apply(action)
        self.status = decision.status
        self.intents = []
        self.decisions.append(decision)
        return decision

    def settle(self, rounds: int = 10, advance: float = 0.0) -> RolloutStatus:
        for _ in range(rounds):
            decision = self.step(advance)
            if not decision.actions and not decision.events:
                break
        assert self.status is not None
        return self.status

    def ask(self, kind: IntentKind, **fields: Any) -> Decision:
        self.intents = [Intent(kind=kind, id=len(self.log) + 1, actor="ana", **fields)]
        return self.step()

    def make_ready(self, color: Color) -> None:
        state = self.colors[color]
        self.colors[color] = state.model_copy(update={"ready": state.desired})

    def apply(self, action: Action) -> None:
        self.log.append(action)
        if isinstance(action, EnsureVersion):
            ready = action.replicas if self.ready_on_ensure else 0
            current = self.colors.get(action.color)
            if current is not None and current.version == action.version:
                ready = min(action.replicas, max(current.ready, ready))
            self.colors[action.color] = ColorState(
                version=action.version, desired=action.replicas, ready=ready
            )
        elif isinstance(action, TearDown):
            assert (self.weights or {}).get(action.color, 0) == 0, "tore down a serving color"
            self.colors.pop(action.color, None)
        elif isinstance(action, SetWeights):
            assert self.router_error is None, "wrote weights to an unreachable router"
            assert sum(action.weights.values()) == 100
            for color, weight in action.weights.items():
                if weight > 0:
                    state = self.colors.get(color)
                    assert state is not None and state.ready > 0, f"traffic to unready {color}"
            self.weights = dict(action.weights)
        elif isinstance(action, SetHeaderRoute | RemoveHeaderRoute | SetPreview | SetMirror):
            assert self.router_error is None, "changed routes on an unreachable router"
            self._route(action)

    def _route(self, action: Action) -> None:
        if isinstance(action, SetHeaderRoute):
            self.header_routes[action.name] = action.color
        elif isinstance(action, RemoveHeaderRoute):
            self.header_routes.pop(action.name, None)
        elif isinstance(action, SetPreview):
            self.preview = action.color
        elif isinstance(action, SetMirror):
            self.mirror = (action.color, action.percentage)

    def deploy(self, version: str) -> None:
        self.rollout = self.rollout.with_version(version)

    def version_weights(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for color, weight in (self.weights or {}).items():
            if weight:
                state = self.colors[color]
                assert state.version is not None
                result[state.version] = weight
        return result
