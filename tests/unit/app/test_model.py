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
from serinus.core.intents import IntentKind, refusal
from serinus.core.status import Color

T = TypeVar("T")
OPERATIONS = (
    IntentKind.JUDGE,
    IntentKind.PROMOTE,
    IntentKind.PROMOTE_FULL,
    IntentKind.RETRY,
    IntentKind.UNDO,
    IntentKind.PAUSE,
    IntentKind.RESUME,
)
TROUBLE = (
    "replicas need 0 observations",
    "replicas need 2 observations",
    "replicas need 4 observations",
    "crash blue",
    "crash green",
    "newest version cannot run",
    "router set_weights",
    "router read_weights",
    "router sync_endpoints",
    "platform ensure",
    "platform observe",
    "platform tear_down",
    "store save",
)


class RolloutModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.world: ModelWorld | None = None
        self.versions = 1

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

    @rule(choice=st.sampled_from(["new", "new", "revert", "v1", "v2"]))
    def change_version(self, choice: str) -> None:
        """Forward or supersede (a new version), revert (back to stable), or any known one."""
        if choice == "new":
            self.versions += 1
            version = f"v{self.versions}"
        elif choice == "revert":
            status = self.run(self.w.store.load(NAME))
            if status is None or status.stable is None:
                return
            version = status.stable.version
        else:
            version = choice
        self.w.rollout = self.w.rollout.with_version(version)
        if self.run(operations.submit(self.w.store, self.w.rollout)):
            STATS["version changes"] += 1
            self.w.new_rollout_may_reuse_colors()

    @rule(data=st.data())
    def operate(self, data: st.DataObject) -> None:
        """An operation that applies now (mostly), or any one (refused, changing nothing)."""
        status = self.run(self.w.store.load(NAME))
        applicable = [k for k in OPERATIONS if refusal(k, status) is None]
        kinds = applicable if applicable and data.draw(st.integers(0, 9)) else list(OPERATIONS)
        kind = data.draw(st.sampled_from(kinds))
        approve = data.draw(st.booleans()) if kind is IntentKind.JUDGE else None
        self._request(kind, approve=approve)

    def _request(self, kind: IntentKind, approve: bool | None = None) -> bool:
        try:
            self.run(
                operations.request(
                    self.w.store, NAME, kind, actor="ana", source="test", approve=approve
                )
            )
        except (Conflict, InvalidInput):
            STATS["operations refused"] += 1
            return False
        STATS[f"operation {kind}"] += 1
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

    @rule(rounds=st.integers(min_value=2, max_value=8), seconds=st.sampled_from([0.5, 2.0, 6.0]))
    def time_passes(self, rounds: int, seconds: float) -> None:
        """`serinus run` keeps reconciling while time passes (failures injected stay pending)."""
        for _ in range(rounds):
            self.w.clock.now += seconds
            self.run(self.w.reconcile())

    @rule(trouble=st.sampled_from(TROUBLE), replica=st.integers(0, REPLICAS - 1))
    def trouble(self, trouble: str, replica: int) -> None:
        """Slow or crashing replicas, a version that cannot run, a failing dependency."""
        w = self.w
        if trouble.startswith("replicas need "):
            w.replicas.observes_until_ready = int(trouble.split()[2])
        elif trouble.startswith("crash "):
            color: Color = "blue" if trouble == "crash blue" else "green"
            current = w.replicas.colors.get(color)
            if current is not None and replica in current.replicas:
                w.replicas.crash(color, replica)
        elif trouble == "newest version cannot run":
            w.replicas.fail_version(w.rollout.spec.version)
        elif trouble.startswith("router "):
            w.router.fail_next(trouble.removeprefix("router "))
        elif trouble.startswith("platform "):
            w.platform.failing.add(trouble.removeprefix("platform "))
        else:
            assert trouble == "store save"
            w.store.fail_save = True

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
    max_examples=200,  # about 10,000 steps in ~15 s; benchmarks/model_long.py runs longer
    stateful_step_count=50,
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
        "provisionings checked",
        "terminal states checked for convergence",
        "aborts with a ready stable checked",
        *(f"strategy {name}" for name in STRATEGIES),
    ):
        assert STATS[key] > 0, f"the model never reached: {key} ({dict(STATS)})"
