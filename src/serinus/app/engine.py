"""One reconcile: observe -> decide -> act -> persist. The same for the local mode and the operator.

Status is persisted only after every action succeeded, so a crash or a failing dependency
leaves the last consistent status in the store and the next reconcile repeats the (idempotent)
actions, starting from what it observes (weights read back, replicas reported). Operations people
request are consumed in the same transaction as the status they led to. A failing dependency,
whatever it raises, ends the reconcile with `Reconciled.error`, never with an exception.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from serinus.app.analysis import ProviderRegistry, advance, default_providers
from serinus.app.gates import GateRunner, local_gates
from serinus.app.metrics import (
    observe_events,
    observe_status,
    record_measurements,
    record_reconcile_error,
    timed_reconcile,
)
from serinus.core.actions import (
    Action,
    EnsureVersion,
    RemoveHeaderRoute,
    SetHeaderRoute,
    SetMirror,
    SetPreview,
    SetWeights,
    TearDown,
    describe,
)
from serinus.core.analysis.run import AnalysisRunState
from serinus.core.authorization import vouched
from serinus.core.errors import DependencyError, NotFound, RouterError, SerinusError
from serinus.core.events import Event
from serinus.core.ports import MirroringRouter, Platform, StateStore, TrafficRouter
from serinus.core.spec import Rollout, background_analysis_of
from serinus.core.status import COLORS, Observed, Phase, RolloutStatus
from serinus.core.strategy.analysis_step import run_name, template_for
from serinus.core.strategy.machine import Decision, decide
from serinus.core.strategy.plan import plan_for

log = logging.getLogger("serinus.engine")

EventSink = Callable[[str, Sequence[Event]], None]
# Phases in which no analysis can change the outcome: no provider is asked to measure.
_SETTLED = frozenset({Phase.ABORTED, Phase.FAILED, Phase.COMPLETED, Phase.SCALING_DOWN})


@dataclass(frozen=True)
class Reconciled:
    """What one reconcile did, for live views and the run loop."""

    status: RolloutStatus
    observed: Observed
    decision: Decision | None
    error: str | None = None


class Engine:
    def __init__(
        self,
        store: StateStore,
        router: TrafficRouter,
        platform: Platform,
        clock: Callable[[], float] = time.time,
        sinks: Sequence[EventSink] = (),
        providers: ProviderRegistry | None = None,
        intent_key: bytes | None = None,
        gates: GateRunner | None = None,
    ) -> None:
        self.store = store
        # The operator's key: an intent its API did not seal keeps only a status writer's rights.
        self.intent_key = intent_key
        self.router = router
        self.platform = platform
        self.clock = clock
        self.sinks: list[EventSink] = [observe_events, *sinks]
        self.providers = providers if providers is not None else default_providers()
        self.gates = gates if gates is not None else local_gates()

    async def observe(self) -> Observed:
        """The platform's colors and the router's weights; a router that cannot be read is
        reported in `router_error` (the core counts the outage against the progress deadline)
        rather than ending the reconcile before anything is decided."""
        colors = await self.platform.observe()
        try:
            for color in COLORS:
                # A color the platform no longer reports has no endpoints: the router must know.
                state = colors.get(color)
                await self.router.sync_endpoints(
                    color, state.endpoints if state is not None else []
                )
            weights = await self.router.read_weights()
        except DependencyError as exc:
            return Observed(colors=colors, router_error=str(exc) or type(exc).__name__)
        return Observed(colors=colors, weights=weights)

    async def reconcile(self, name: str) -> Reconciled:
        with timed_reconcile(name):
            result = await self._contained(name)
        if result.error is not None:
            record_reconcile_error(name)
        return result

    async def _contained(self, name: str) -> Reconciled:
        try:
            return await self._reconcile(name)
        except NotFound:
            raise
        except SerinusError as exc:  # the store (or a provider) failed: the driver retries
            log.warning("%s: reconcile failed: %s", name, exc)
            return Reconciled(await self._last_status(name), Observed(), None, str(exc))
        except Exception as exc:  # an adapter's bug must not end `serinus run`
            log.exception("%s: unexpected error in a reconcile", name)
            error = f"unexpected {type(exc).__name__} in a reconcile: {exc}"
            return Reconciled(await self._last_status(name), Observed(), None, error)

    async def _last_status(self, name: str) -> RolloutStatus:
        try:
            return await self.store.load(name) or RolloutStatus()
        except Exception:  # the store itself is what fails
            return RolloutStatus()

    async def _reconcile(self, name: str) -> Reconciled:
        rollout = await self.store.get_spec(name)
        if rollout is None:
            raise NotFound(f"rollout {name!r} not found")
        status = await self.store.load(name)
        try:
            observed = await self.observe()
        except SerinusError as exc:
            log.warning("%s: cannot observe: %s", name, exc)
            return Reconciled(status or RolloutStatus(), Observed(), None, str(exc))
        if status is not None and observed.router_error is None:
            observed = observed.model_copy(update=await self._measure(rollout, status))
            gates = await self.gates.call_due(rollout, status, self.clock())
            observed = observed.model_copy(update={"gates": gates})
        intents = [vouched(i, self.intent_key) for i in await self.store.pending_intents(name)]
        decision = decide(rollout, status, observed, intents, self.clock())
        for action in decision.actions:
            try:
                await self._drain(action, observed)
                await self._perform(action)
            except SerinusError as exc:
                log.warning("%s: %s failed: %s", name, describe(action), exc)
                return Reconciled(status or decision.status, observed, decision, str(exc))
        new_status = decision.status.model_copy(
            update={"ready": {color: state.ready for color, state in observed.colors.items()}}
        )
        if new_status != status or decision.events or decision.consumed:
            await self.store.save(name, new_status, decision.events, decision.consumed)
        observe_status(name, new_status)
        if decision.events:
            for sink in self.sinks:
                sink(name, decision.events)
        if observed.router_error is not None:  # decided and saved, yet the driver must retry
            error = f"cannot reach the router: {observed.router_error}"
            return Reconciled(new_status, observed, decision, error)
        return Reconciled(new_status, observed, decision)

    async def _measure(
        self, rollout: Rollout, status: RolloutStatus
    ) -> dict[str, AnalysisRunState]:
        """Take the due measurements of the running analyses (providers measure; core judges)."""
        measured: dict[str, AnalysisRunState] = {}
        if status.phase in _SETTLED or status.canary is None:
            return measured  # nothing measured now could change the outcome
        steps = plan_for(rollout.spec).steps
        step = steps[status.step_index].analysis if status.step_index < len(steps) else None
        run = status.analysis
        current = run is not None and run.name == run_name(status.step_index)
        if step is not None and run is not None and current and not run.completed:
            template = template_for(rollout.spec, step)
            measured["analysis"] = await advance(template, run, self.providers, self.clock())
            record_measurements(rollout.name, run, measured["analysis"])
        background = background_analysis_of(rollout.spec.strategy)
        run = status.background_analysis
        if background is not None and run is not None and not run.completed:
            template = template_for(rollout.spec, background)
            measured["background_analysis"] = await advance(
                template, run, self.providers, self.clock()
            )
            record_measurements(rollout.name, run, measured["background_analysis"])
        return measured

    async def _drain(self, action: Action, observed: Observed) -> None:
        """Before a scale-down, take the replicas the platform will stop out of the router, so
        no new request is sent to a replica that is stopping (HAProxy's retries would otherwise
        be all that hides it). The platforms stop the replicas numbered `replicas` and up."""
        if not isinstance(action, EnsureVersion):
            return
        state = observed.colors.get(action.color)
        if state is None or state.version != action.version:
            return  # a new version: the platform stops this color, which has no weight
        kept = [e for e in state.endpoints if e.replica < action.replicas]
        if len(kept) < len(state.endpoints):
            await self.router.sync_endpoints(action.color, kept)

    async def _perform(self, action: Action) -> None:
        log.info("perform %s", describe(action))
        if isinstance(action, EnsureVersion):
            await self.platform.ensure(action.color, action.version, action.replicas)
        elif isinstance(action, SetWeights):
            await self.router.set_weights(action.weights)
        elif isinstance(action, TearDown):
            await self.platform.tear_down(action.color)
        elif isinstance(action, SetHeaderRoute):
            await self.router.set_header_route(action.name, action.matches, action.color)
        elif isinstance(action, RemoveHeaderRoute):
            await self.router.remove_header_route(action.name)
        elif isinstance(action, SetPreview):
            await self.router.set_preview(action.color)
        elif isinstance(action, SetMirror):
            if not isinstance(self.router, MirroringRouter):
                raise RouterError(f"{type(self.router).__name__} cannot mirror traffic")
            await self.router.set_mirror(action.color, action.percentage)
        else:
            raise TypeError(f"no handler for {describe(action)}")
