"""serinus's own Prometheus metrics: what rollouts are doing and how the controller is coping.

Everything lives in a dedicated `CollectorRegistry` (never the process-global one), so embedding
serinus in another program does not mix its metrics with the host's, and tests can build a fresh
`SerinusMetrics` each.

Two kinds of figures:

- gauges that describe a rollout's state now (info, phase, weights, step, readiness, how long a
  judgement has been waiting); `observe_status` sets them from a status and can be called by the
  engine after each reconcile or by the API on each scrape from the store, so the local
  `serinus serve` shows them although another process drives the rollout;
- counters and histograms of things that happened (events, analysis outcomes, judgement waits,
  notification failures, reconcile durations); they count in the process where it happens, i.e.
  the process running the engine (the operator, which also serves the API).

The module-level functions act on `DEFAULT`, the instance the engine and the API share.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from serinus.core.analysis.run import AnalysisRunState
from serinus.core.events import Event, EventType
from serinus.core.status import COLORS, Phase, RolloutStatus

if TYPE_CHECKING:  # only the type: importing the dispatcher would load httpx and jinja2
    from serinus.app.notifications import DeliveryFailure

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Judgements wait for people: seconds to hours.
JUDGEMENT_BUCKETS = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class _Remembered:
    """Label values set for a rollout, so they can be removed when they change or it goes."""

    info: tuple[str, str, str] | None = None
    awaiting_since: float | None = None
    seen: set[str] = field(default_factory=set)


class SerinusMetrics:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._rollouts: dict[str, _Remembered] = {}
        r = self.registry
        self.info = Gauge(
            "serinus_rollout_info",
            "A rollout and the versions it runs (always 1).",
            ["rollout", "stable", "canary"],
            registry=r,
        )
        self.phase = Gauge(
            "serinus_rollout_phase",
            "1 for the phase the rollout is in, 0 for the others.",
            ["rollout", "phase"],
            registry=r,
        )
        self.weight = Gauge(
            "serinus_rollout_weight_percent",
            "Desired share of the traffic per color, in percent.",
            ["rollout", "color"],
            registry=r,
        )
        self.step = Gauge(
            "serinus_rollout_step",
            "Index of the step the rollout is at (0-based).",
            ["rollout"],
            registry=r,
        )
        self.replicas_ready = Gauge(
            "serinus_rollout_replicas_ready",
            "Ready replicas per color, as last observed.",
            ["rollout", "color"],
            registry=r,
        )
        self.replicas_desired = Gauge(
            "serinus_rollout_replicas_desired",
            "Desired replicas per color.",
            ["rollout", "color"],
            registry=r,
        )
        self.judgement_waiting = Gauge(
            "serinus_judgement_waiting_seconds",
            "How long the pending judgement has waited (0 when none is pending).",
            ["rollout"],
            registry=r,
        )
        self.judgement_wait = Histogram(
            "serinus_judgement_wait_seconds",
            "Time from a judgement gate opening to its decision.",
            ["rollout", "approved"],
            buckets=JUDGEMENT_BUCKETS,
            registry=r,
        )
        self.events = Counter(
            "serinus_events",
            "Rollout events, by type.",
            ["rollout", "type"],
            registry=r,
        )
        self.analysis_outcomes = Counter(
            "serinus_analysis_outcomes",
            "Analysis measurements or runs, by metric and outcome.",
            ["rollout", "metric", "outcome"],
            registry=r,
        )
        self.notification_failures = Counter(
            "serinus_notification_failures",
            "Notifications given up on after their retries.",
            ["rollout", "channel", "kind"],
            registry=r,
        )
        self.reconcile_duration = Histogram(
            "serinus_reconcile_duration_seconds",
            "Duration of one reconcile (observe, decide, act, persist).",
            ["rollout"],
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.reconcile_errors = Counter(
            "serinus_reconcile_errors",
            "Reconciles that stopped on a failing dependency.",
            ["rollout"],
            registry=r,
        )

    # -- state ------------------------------------------------------------------------------

    def observe_status(self, name: str, status: RolloutStatus | None) -> None:
        """Set the state gauges of a rollout from its status (None: not started)."""
        remembered = self._rollouts.setdefault(name, _Remembered())
        info = (
            name,
            status.stable.version if status and status.stable else "",
            status.canary.version if status and status.canary else "",
        )
        if remembered.info is not None and remembered.info != info:
            self.info.remove(*remembered.info)
        self.info.labels(*info).set(1)
        remembered.info = info
        current = status.phase if status else Phase.PENDING
        for phase in Phase:
            self.phase.labels(name, phase.value).set(1 if phase is current else 0)
        if status is None:
            return
        self.step.labels(name).set(status.step_index)
        for color in COLORS:
            self.weight.labels(name, color).set(status.weights.get(color, 0))
            self.replicas_ready.labels(name, color).set(status.ready.get(color, 0))
            self.replicas_desired.labels(name, color).set(status.replicas.get(color, 0))
        waiting = 0.0
        if status.phase is Phase.AWAITING_JUDGEMENT:
            waiting = max(0.0, self._clock() - status.phase_since)
        self.judgement_waiting.labels(name).set(waiting)

    def forget(self, name: str) -> None:
        """Drop every series of a rollout that no longer exists."""
        self._rollouts.pop(name, None)
        for metric in (
            self.info,
            self.phase,
            self.weight,
            self.step,
            self.replicas_ready,
            self.replicas_desired,
            self.judgement_waiting,
        ):
            for labels in _label_sets(metric):
                if labels and labels[0] == name:
                    metric.remove(*labels)

    def known_rollouts(self) -> set[str]:
        return set(self._rollouts)

    # -- happenings -------------------------------------------------------------------------

    def observe_events(self, name: str, events: Sequence[Event]) -> None:
        """An engine sink: count events and time judgements from gate to decision."""
        remembered = self._rollouts.setdefault(name, _Remembered())
        for event in events:
            self.events.labels(name, event.type.value).inc()
            if event.type is EventType.AWAITING_JUDGEMENT:
                remembered.awaiting_since = event.at
            elif event.type is EventType.JUDGED and remembered.awaiting_since is not None:
                approved = "true" if event.data.get("approved", False) else "false"
                waited = max(0.0, event.at - remembered.awaiting_since)
                self.judgement_wait.labels(name, approved).observe(waited)
                remembered.awaiting_since = None
            elif event.type in (EventType.ABORTED, EventType.FAILED, EventType.COMPLETED):
                remembered.awaiting_since = None

    def record_analysis_outcome(self, name: str, metric: str, outcome: str) -> None:
        """Count one analysis outcome (e.g. Successful, Failed, Inconclusive, Error)."""
        self.analysis_outcomes.labels(name, metric, outcome).inc()

    def record_measurements(
        self, name: str, before: AnalysisRunState, after: AnalysisRunState
    ) -> None:
        """Count the measurements a tick added to a run, by metric and outcome."""
        previous = {metric.name: metric for metric in before.metrics}
        for metric in after.metrics:
            old = previous.get(metric.name)
            for outcome in _OUTCOMES:
                added = getattr(metric, outcome) - (getattr(old, outcome) if old else 0)
                if added > 0:
                    self.analysis_outcomes.labels(name, metric.name, outcome.title()).inc(added)

    def record_notification_failure(self, failure: DeliveryFailure) -> None:
        """The dispatcher's `on_failure` hook."""
        self.notification_failures.labels(failure.rollout, failure.channel, failure.kind).inc()

    @contextmanager
    def timed_reconcile(self, name: str) -> Iterator[None]:
        """Time a reconcile; one that raises also counts as an error."""
        started = time.perf_counter()
        try:
            yield
        except Exception:
            self.reconcile_errors.labels(name).inc()
            raise
        finally:
            self.reconcile_duration.labels(name).observe(time.perf_counter() - started)

    def observe_reconcile(self, name: str, seconds: float, error: bool = False) -> None:
        self.reconcile_duration.labels(name).observe(seconds)
        if error:
            self.reconcile_errors.labels(name).inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def _label_sets(metric: Gauge) -> list[tuple[str, ...]]:
    # prometheus-client keeps no public list of children; collect() reports every sample.
    labels: set[tuple[str, ...]] = set()
    for family in metric.collect():
        for sample in family.samples:
            labels.add(tuple(sample.labels[name] for name in metric._labelnames))
    return sorted(labels)


_OUTCOMES = ("successful", "failed", "inconclusive", "error")
DEFAULT = SerinusMetrics()


def observe_status(name: str, status: RolloutStatus | None) -> None:
    DEFAULT.observe_status(name, status)


def observe_events(name: str, events: Sequence[Event]) -> None:
    """Engine sink (see `Engine(sinks=[observe_events])`)."""
    DEFAULT.observe_events(name, events)


def record_analysis_outcome(name: str, metric: str, outcome: str) -> None:
    DEFAULT.record_analysis_outcome(name, metric, outcome)


def record_measurements(name: str, before: AnalysisRunState, after: AnalysisRunState) -> None:
    DEFAULT.record_measurements(name, before, after)


def record_reconcile_error(name: str) -> None:
    """A reconcile that ended on an error (the engine contains them; it does not raise)."""
    DEFAULT.reconcile_errors.labels(name).inc()


def record_notification_failure(failure: DeliveryFailure) -> None:
    """Pass as `NotificationDispatcher(on_failure=record_notification_failure)`."""
    DEFAULT.record_notification_failure(failure)


def timed_reconcile(name: str) -> AbstractContextManager[None]:
    """`with timed_reconcile(name): await engine.reconcile(name)`."""
    return DEFAULT.timed_reconcile(name)
