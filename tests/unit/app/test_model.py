"""The model-based proof of the safety invariants, for every strategy (issue 8).

A hypothesis state machine drives the real `decide()` and the real `Engine` over the in-memory
adapters with random interleavings of spec changes, operations, failures of every dependency,
slow and crashing replicas, time passing and process restarts. `ModelWorld` checks the
invariants after every reconcile and at every effect (see tests/support/model_world.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from model_world import (
    METRIC_MODES,
    NAME,
    REPLICAS,
    STATS,
    STRATEGIES,
    ModelWorld,
    Violation,
)

from serinus.app import operations
from serinus.core.errors import Conflict, InvalidInput
from serinus.core.intents import IntentKind
from serinus.core.status import COLORS

T = TypeVar("T")
VERSIONS = ("v1", "v2", "v3")
OPERATIONS = (
    IntentKind.PROMOTE,
    IntentKind.PROMOTE_FULL,
    IntentKind.RETRY,
    IntentKind.UNDO,
    IntentKind.PAUSE,
    IntentKind.RESUME,
)


class RolloutModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.world: ModelWorld | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    @property
    def w(self) -> ModelWorld:
        assert self.world is not None
        return self.world

    def teardown(self) -> None:
        self.loop.close()

    @initialize(strategy=st.sampled_from(sorted(STRATEGIES)))
    def deploy_first_version(self, strategy: str) -> None:
        STATS[f"strategy {strategy}"] += 1
        self.world = ModelWorld(strategy)
        self.run(operations.submit(self.w.store, self.w.rollout))

    # --- the spec and the operations -----------------------------------------------------

    @rule(version=st.sampled_from(VERSIONS))
    def change_version(self, version: str) -> None:
        """Forward, revert (back to stable) or supersede (a newer one while a canary runs)."""
        self.w.rollout = self.w.rollout.with_version(version)
        if self.run(operations.submit(self.w.store, self.w.rollout)):
            self.w.new_rollout_may_reuse_colors()

    @rule(kind=st.sampled_from(OPERATIONS))
    def operate(self, kind: IntentKind) -> None:
        self._request(kind)

    @rule(approve=st.booleans())
    def judge(self, approve: bool) -> None:
        self._request(IntentKind.JUDGE, approve=approve)

    def _request(self, kind: IntentKind, **fields: Any) -> bool:
        try:
            self.run(
                operations.request(self.w.store, NAME, kind, actor="ana", source="test", **fields)
            )
        except (Conflict, InvalidInput):
            return False
        if kind in (IntentKind.RETRY, IntentKind.UNDO):
            self.w.new_rollout_may_reuse_colors()
        if kind is IntentKind.UNDO:
            spec = self.run(self.w.store.get_spec(NAME))
            assert spec is not None
            self.w.rollout = spec
        return True

    @rule()
    def abort(self) -> None:
        """Abort takes effect in the very next reconcile when stable is ready."""
        if not self._request(IntentKind.ABORT):
            return
        self.w.heal()
        result = self.run(self.w.reconcile())
        if result.decision is None or result.error is not None:
            return
        stable = result.decision.status.stable
        assert stable is not None
        state = result.observed.color(stable.color)
        if state.version == stable.version and state.ready >= REPLICAS:
            STATS["aborts with a ready stable checked"] += 1
            if self.w.router.weights[stable.color] != 100:
                raise Violation(
                    f"abort left {self.w.router.weights} although {stable.version} "
                    f"has {state.ready} ready replicas"
                )

    # --- the world ---------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.0, 0.5, 1.0, 3.0, 10.0]))
    def reconcile(self, seconds: float) -> None:
        self.w.clock.now += seconds
        self.run(self.w.reconcile())

    @rule(rounds=st.integers(min_value=2, max_value=12), seconds=st.sampled_from([0.5, 2.0, 6.0]))
    def time_passes(self, rounds: int, seconds: float) -> None:
        """`serinus run` keeps reconciling while time passes (failures injected stay pending)."""
        for _ in range(rounds):
            self.w.clock.now += seconds
            self.run(self.w.reconcile())

    @rule(observes=st.integers(min_value=0, max_value=4))
    def replicas_take(self, observes: int) -> None:
        """Replicas started from now on need this many observations to become ready."""
        self.w.replicas.observes_until_ready = observes

    @rule(color=st.sampled_from(COLORS), replica=st.integers(min_value=0, max_value=REPLICAS - 1))
    def crash(self, color: str, replica: int) -> None:
        current = self.w.replicas.colors.get(color)  # type: ignore[call-overload]
        if current is not None and replica in current.replicas:
            self.w.replicas.crash(color, replica)  # type: ignore[arg-type]

    @rule(version=st.sampled_from(VERSIONS))
    def version_cannot_run(self, version: str) -> None:
        self.w.replicas.fail_version(version)

    @rule(method=st.sampled_from(["set_weights", "read_weights", "sync_endpoints"]))
    def router_fails(self, method: str) -> None:
        self.w.router.fail_next(method)

    @rule(method=st.sampled_from(["ensure", "observe", "tear_down"]))
    def platform_fails(self, method: str) -> None:
        self.w.platform.failing.add(method)

    @rule()
    def store_fails(self) -> None:
        self.w.store.fail_save = True

    @rule(mode=st.sampled_from(sorted(METRIC_MODES)))
    def metrics(self, mode: str) -> None:
        self.w.metric_mode = mode

    @precondition(lambda self: self.world is not None)
    @rule()
    def restart(self) -> None:
        self.w.restart()

    @invariant()
    def weights_are_whole_percentages(self) -> None:
        if self.world is not None:
            weights = self.world.router.weights
            assert sum(weights.values()) == 100
            assert all(isinstance(w, int) for w in weights.values())


RolloutModel.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRolloutModel = RolloutModel.TestCase


def test_the_model_exercises_every_invariant() -> None:
    """Runs after the model (same module): each check above ran, not just passed vacuously."""
    if not STATS["reconciles"]:
        TestRolloutModel().runTest()
    for key in (
        "weight writes checked",
        "teardowns checked",
        "terminal states checked for convergence",
        "aborts with a ready stable checked",
        *(f"strategy {name}" for name in STRATEGIES),
    ):
        assert STATS[key] > 0, f"the model never reached: {key} ({dict(STATS)})"
