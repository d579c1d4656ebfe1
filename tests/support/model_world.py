"""The in-memory world the model-based test drives: real engine, fake adapters, checked invariants.

`ModelWorld` owns the state that outlives a `serinus run` process (the store's data, the
replicas, the router), and builds a new `Engine` over it on `restart()`. Its platform and store
wrappers inject failures on demand and check, at the moment of every effect, the invariants that
are about effects: no teardown of a color that carries traffic, no provisioning again of a color
serinus is tearing down, no teardown of an open rollback window's color before its `until`
unless a new rollout needs the color. `check(result)` checks the invariants about the state
after a reconcile.
"""

from __future__ import annotations

import math
from typing import Any

from model_fakes import METRIC_MODES as METRIC_MODES
from model_fakes import SETTLED as SETTLED
from model_fakes import STATS as STATS
from model_fakes import FlakyStore, GuardedPlatform, OutageRouter, ScriptedProvider
from model_invariants import (
    analysis_ends_with_its_step,
    background_keeps_guarding,
    canary_beside_live,
    no_leaving_provisioned,
    router_forgets_gone_colors,
)
from strategy_world import make_rollout

from serinus.adapters.platforms.memory import MemoryWorld
from serinus.adapters.stores.memory import MemoryState
from serinus.app.engine import Engine, Reconciled
from serinus.core.actions import SetWeights
from serinus.core.errors import StoreError
from serinus.core.spec import Rollout
from serinus.core.status import (
    COLORS,
    Color,
    Observed,
    Phase,
    RollbackWindowState,
    RolloutStatus,
)

NAME = "web"
REPLICAS = 3
STEP_QUERY = "step"  # the provider tells which run it measures by the query
BACKGROUND_QUERY = "background"
BACKGROUND_STARTING_STEP = 1
TEMPLATES = [
    {
        "name": "errors",
        "metrics": [
            {
                "name": "error-ratio",
                "count": 2,
                "interval": "1s",
                "consecutiveErrorLimit": 2,
                "successCondition": "result[0] <= 0.05",
                "failureCondition": "result[0] >= 0.5",
                "provider": {"prometheus": {"address": "http://prom:9090", "query": STEP_QUERY}},
            }
        ],
    },
    {  # the background analysis: no count, it measures until the rollout ends it
        "name": "guard",
        "metrics": [
            {
                "name": "error-ratio",
                "interval": "2s",
                "successCondition": "result[0] <= 0.05",
                "failureCondition": "result[0] >= 0.5",
                "provider": {
                    "prometheus": {"address": "http://prom:9090", "query": BACKGROUND_QUERY}
                },
            }
        ],
    },
]
ANALYSIS = {"analysis": {"templates": ["errors"]}}
STRATEGIES: dict[str, dict[str, Any]] = {
    "blueGreenCanary": {
        "blueGreenCanary": {
            "steps": [
                {"setWeight": 20},
                {"pause": {"duration": 5}},
                {"judgement": {"instructions": "look at green"}},
                ANALYSIS,
                {"setWeight": 60},
                {"pause": {}},
            ],
            "analysis": {"templates": ["guard"], "startingStep": BACKGROUND_STARTING_STEP},
            "scaleDownDelay": 5,
            "abortScaleDownDelay": 5,
        }
    },
    "canary": {
        "canary": {
            "steps": [
                {"setWeight": 34},
                {"pause": {}},
                ANALYSIS,
                {"setWeight": 67},
                {"judgement": {}},
            ],
            "scaleDownDelay": 0,
            "abortScaleDownDelay": 3,
        }
    },
    "blueGreen": {
        "blueGreen": {"autoPromotion": False, "scaleDownDelay": 5, "abortScaleDownDelay": 5}
    },
    "rollingUpdate": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
}
# Rollback windows the model tries (rollingUpdate refuses one): none, full size, a third.
WINDOW_SECONDS = 10.0
WINDOWS: dict[str, dict[str, Any] | None] = {
    "no window": None,
    "full window": {"duration": WINDOW_SECONDS},
    "full window (as a share)": {"duration": WINDOW_SECONDS, "replicas": "100%"},
    "1/3 window": {"duration": WINDOW_SECONDS, "replicas": 1},
}


def went_live(status: RolloutStatus) -> bool:
    """Whether the status's stable version has served (not a first deployment that failed)."""
    return status.canary is not None or status.phase in (Phase.COMPLETED, Phase.SCALING_DOWN)


def versions_of(status: RolloutStatus, color: Color) -> set[str]:
    """Versions that may serve on a color: the one it should run, and one it is draining."""
    found = {t.version for t in status.teardowns if t.color == color}
    if (version := status.version_of(color)) is not None:
        found.add(version)
    return found


class Violation(AssertionError):
    """An invariant of the model does not hold."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ModelWorld:
    def __init__(self, strategy: str, window: str = "no window") -> None:
        self.strategy = strategy
        chosen = {kind: dict(body) for kind, body in STRATEGIES[strategy].items()}
        if (kept := WINDOWS[window]) is not None:
            for body in chosen.values():
                body["rollbackWindow"] = kept
        self.rollout: Rollout = make_rollout(
            chosen, "v1", replicas=REPLICAS, analysisTemplates=TEMPLATES
        )
        self.clock = Clock()
        self.state = MemoryState()
        self.replicas = MemoryWorld(observes_until_ready=1)
        self.router = OutageRouter()
        self.provider = ScriptedProvider(self)
        self.metric_mode = "good"
        self.phase_before: Phase | None = None
        self.live_before = False
        self.stable_before: str | None = None
        self.window_before: RollbackWindowState | None = None
        self.status_before: RolloutStatus | None = None
        self.live: set[str] = set()  # versions that served as a completed rollout's stable
        self.torn: set[tuple[Color, str]] = set()  # cleared when a new rollout may reuse them
        self.restarts = 0
        self.violations: list[str] = []
        self.reconciles = 0
        self.engine, self.platform, self.store = self._open()

    def _open(self) -> tuple[Engine, GuardedPlatform, FlakyStore]:
        platform = GuardedPlatform(self)
        store = FlakyStore(self.state)
        engine = Engine(
            store,
            self.router,
            platform,
            clock=self.clock,
            providers={"prometheus": self.provider},
        )
        return engine, platform, store

    def restart(self) -> None:
        """A new `serinus run`: new engine, platform and store handles over the same world."""
        failing = self.platform.failing
        self.engine, self.platform, self.store = self._open()
        self.platform.failing = failing
        self.restarts += 1

    def heal(self) -> None:
        self.platform.failing.clear()
        self.store.fail_save = False
        self.router._failures.clear()
        self.router.down = False

    def new_rollout_may_reuse_colors(self) -> None:
        self.torn.clear()

    # --- invariants ------------------------------------------------------------------------

    def ready_now(self, color: Color) -> int:
        """Ready replicas of a color in the world right now (not counting an observation)."""
        current = self.replicas.colors.get(color)
        if current is None or current.version in self.replicas.failing_versions:
            return 0
        return sum(1 for r in current.replicas.values() if r.observes_left == 0)

    def check_not_serving(self, color: Color, what: str) -> None:
        if not self.live_before:
            return  # a first deployment that never went live is replaced in place
        if self.router.weights.get(color, 0) > 0 and self.ready_now(color) > 0:
            self.violate(f"{what} on {color} while it serves {self.router.weights[color]}%")

    def check_window_kept(self, color: Color, what: str) -> None:
        """An open window's color keeps its replicas until `until`, unless a new rollout (a
        version other than the kept one and the stable one) needs the color."""
        window = self.window_before
        if window is None or window.color != color:
            return
        STATS["window colors checked at an effect"] += 1
        if self.clock.now >= window.until:
            return  # the window is over
        if self.rollout.spec.version not in (window.version, self.stable_before):
            return  # a new rollout reuses the color
        self.violate(
            f"{what} on {color} although its rollback window for {window.version} is open "
            f"until {window.until} (now {self.clock.now})"
        )

    def violate(self, message: str) -> None:
        """Recorded, then raised after the reconcile (the engine contains adapters' errors)."""
        self.violations.append(message)

    async def reconcile(self) -> Reconciled:
        before = await self.store.load(NAME)
        self.status_before = before
        self.note_live(before)
        self.phase_before = before.phase if before is not None else None
        self.live_before = before is not None and went_live(before)
        stable = before.stable if before is not None else None
        self.stable_before = stable.version if stable is not None else None
        self.window_before = before.rollback_window if before is not None else None
        self.reconciles += 1
        try:
            result = await self.engine.reconcile(NAME)
        except StoreError as exc:  # today's engine lets these out; the driver retries them
            return Reconciled(before or RolloutStatus(), Observed(), None, str(exc))
        if self.violations:
            raise Violation("; ".join(self.violations))
        self.check(result)
        STATS["reconciles"] += 1
        STATS[f"phase {result.status.phase}"] += 1
        for event in result.decision.events if result.decision is not None else ():
            STATS[f"event {event.type}"] += 1
        if result.error is not None:
            STATS["reconciles with an error"] += 1
            if "unexpected" in result.error:
                self.violate(f"a reconcile crashed: {result.error}")
                raise Violation("; ".join(self.violations))
        return result

    def note_live(self, status: RolloutStatus | None) -> None:
        live = status is not None and status.phase in (Phase.COMPLETED, Phase.SCALING_DOWN)
        if live and status is not None and status.stable is not None:
            self.live.add(status.stable.version)

    def check_lifecycle(self, result: Reconciled) -> None:
        """Endpoints of gone colors, analysis runs, the stable beside a canary, leaving versions."""
        decision, status = result.decision, result.status
        found = []
        if decision is not None:
            found += no_leaving_provisioned(decision.actions, decision.status, result.observed)
            if result.observed.router_error is None:
                found += router_forgets_gone_colors(self.router.endpoints, result.observed)
        if result.error is None:
            found += analysis_ends_with_its_step(status)
            found += canary_beside_live(status, self.live)
            if self.strategy == "blueGreenCanary":
                steps = len(STRATEGIES["blueGreenCanary"]["blueGreenCanary"]["steps"])
                found += background_keeps_guarding(
                    self.status_before, status, BACKGROUND_STARTING_STEP, steps
                )
            self.note_live(status)
        if found:
            raise Violation("; ".join(found))

    def check(self, result: Reconciled) -> None:
        self.check_lifecycle(result)
        weights = self.router.weights
        if sorted(weights) != sorted(COLORS) or sum(weights.values()) != 100:
            raise Violation(f"router weights {weights} do not sum to 100")
        if any(not isinstance(w, int) or w < 0 for w in weights.values()):
            raise Violation(f"router weights {weights} are not non-negative integers")
        decision = result.decision
        if decision is not None:
            said = decision.status
            for action in decision.actions:
                if not isinstance(action, SetWeights):
                    continue
                STATS["weight writes checked"] += 1
                self.check_proportional(action.weights, result)
                for color, weight in action.weights.items():
                    state = result.observed.color(color)
                    allowed = versions_of(said, color)
                    if weight > 0 and not (state.version in allowed and state.ready > 0):
                        raise Violation(
                            f"{weight}% written to {color} with {state.ready} ready replicas "
                            f"of {state.version} (status says {allowed})"
                        )
        status = result.status
        if result.error is None and status.terminal:
            STATS["terminal states checked for convergence"] += 1
            self.check_converged(status)
        window = status.rollback_window
        if window is not None and result.error is None and status.converged:
            STATS["open windows checked for replicas"] += 1
            current = self.replicas.colors.get(window.color)
            if current is None or current.version != window.version or not current.replicas:
                raise Violation(
                    f"the rollback window keeps {window.version} on {window.color}, which runs "
                    f"{current.version if current else 'nothing'}"
                )

    def check_proportional(self, weights: dict[Color, int], result: Reconciled) -> None:
        """A color gets more than its ready share only while the other one is fully used."""
        assert result.decision is not None
        said = result.decision.status
        share = {}
        for color in COLORS:
            state = result.observed.color(color)
            ready = state.ready if state.version in versions_of(said, color) else 0
            share[color] = min(100.0, 100.0 * ready / REPLICAS)
        for color, other in (COLORS, COLORS[::-1]):
            if weights[color] > math.ceil(share[color]) and weights[other] < math.floor(
                share[other]
            ):
                raise Violation(
                    f"wrote {weights}: {color} gets more than its ready share "
                    f"({share[color]:.0f}%) while {other} has spare capacity"
                )

    def check_converged(self, status: RolloutStatus) -> None:
        wanted = {color: status.weights.get(color, 0) for color in COLORS}
        if status.weights and self.router.weights != wanted:
            raise Violation(
                f"{status.phase} but the router has {self.router.weights}, not {wanted}"
            )
        for color in COLORS:
            version = status.version_of(color)
            current = self.replicas.colors.get(color)
            if version is None:
                if current is not None:
                    raise Violation(f"{status.phase} but {color} still runs {current.version}")
                continue
            serving = self.router.weights[color] > 0
            if serving and went_live(status) and self.ready_now(color) == 0:
                raise Violation(f"{status.phase} but {color} has weight and nothing ready")
            if current is not None and current.version != version:
                raise Violation(f"{status.phase} but {color} runs {current.version}, not {version}")
