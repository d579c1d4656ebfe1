"""The ports: small protocols each adapter implements. The engine only knows these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from serinus.core.events import Event
from serinus.core.intents import Intent
from serinus.core.notification_spec import SecretRef
from serinus.core.spec import Rollout
from serinus.core.status import Color, ColorState, Endpoint, RolloutStatus


class TrafficRouter(Protocol):
    """Splits a service's traffic between the colors."""

    async def prepare(self) -> None:
        """Make the router usable (start or attach HAProxy, find the VirtualService, ...)."""

    async def sync_endpoints(self, color: Color, endpoints: Sequence[Endpoint]) -> None:
        """Tell the router where a color's replicas are (routers that use Services ignore it)."""

    async def read_weights(self) -> dict[Color, int]:
        """The weights in force now, as read back from the router."""

    async def set_weights(self, weights: Mapping[Color, int]) -> None:
        """Apply weights (integers summing to 100), raising before lowering, then verify."""

    async def set_header_route(
        self, name: str, matches: Sequence[Mapping[str, Any]], color: Color
    ) -> None: ...

    async def remove_header_route(self, name: str) -> None: ...

    async def set_preview(self, color: Color | None) -> None:
        """Point the preview route at a color (None: no preview); no-op without a preview."""

    async def close(self) -> None:
        """Release connections; never stops the traffic."""


@runtime_checkable
class StoppableRouter(Protocol):
    """A router serinus runs itself (a local HAProxy), stopped when its rollout is deleted."""

    async def stop(self) -> None: ...


@runtime_checkable
class MirroringRouter(Protocol):
    """A router that can also copy requests to a color (Istio); a capability, not every router's."""

    async def set_mirror(self, color: Color | None, percentage: float = 100.0) -> None: ...


class Platform(Protocol):
    """Runs the replicas of each color."""

    async def ensure(self, color: Color, version: str, replicas: int) -> None:
        """Start, replace or scale a color's replicas; returns without waiting for readiness."""

    async def observe(self) -> dict[Color, ColorState]: ...

    async def tear_down(self, color: Color) -> None: ...

    async def close(self) -> None:
        """Release resources; running replicas keep running."""


class StateStore(Protocol):
    """Desired spec, status, event history and the operations audit of every rollout."""

    async def submit(self, rollout: Rollout) -> None:
        """Record the desired spec (a new version starts a rollout)."""

    async def get_spec(self, name: str) -> Rollout | None: ...

    async def load(self, name: str) -> RolloutStatus | None: ...

    async def save(
        self,
        name: str,
        status: RolloutStatus,
        events: Sequence[Event],
        consumed: Sequence[Intent],
    ) -> None:
        """Persist status, events and the intents acted on, atomically."""

    async def names(self) -> list[str]: ...

    async def record_intent(self, name: str, intent: Intent) -> Intent:
        """Store an operation; returns it with its id."""

    async def pending_intents(self, name: str) -> list[Intent]: ...

    async def intents(self, name: str, limit: int = 100) -> list[Intent]:
        """The operations audit, newest last."""

    async def history(self, name: str, limit: int = 200) -> list[Event]:
        """Events, oldest first (the newest `limit`)."""

    async def delete(self, name: str) -> None: ...


class Notifier(Protocol):
    """Delivers one event to one channel; raises on failure (the dispatcher retries)."""

    async def send(self, rollout: str, event: Event, link: str | None = None) -> None:
        """`link` is the rollout's dashboard page, shown in the message when given."""


class SecretResolver(Protocol):
    """Turns a secret reference from a spec into its value, at the moment it is needed."""

    async def resolve(self, ref: SecretRef, namespace: str) -> str:
        """The value; raises NotFound naming the reference (never a value) when it is missing."""


Source_contra = TypeVar("Source_contra", contravariant=True)


class MetricProvider(Protocol[Source_contra]):
    """Takes one measurement of a metric source (e.g. a Prometheus query); it never judges.

    The source arrives with its `{{variables}}` already filled in. Raises MetricsError when it
    cannot measure (unreachable, timeout, unexpected reply); an empty list means "no data".
    """

    async def measure(self, source: Source_contra) -> list[float]: ...


@runtime_checkable
class KeyedMetricProvider(Protocol[Source_contra]):
    """A provider whose measurement outlives one reconcile (a Kubernetes Job).

    It is told which measurement it takes (the run's identity, the metric, the measurement's
    index), so a repeated call, even from a restarted process, continues the same measurement;
    it answers None while that measurement is still pending.
    """

    async def measure_keyed(
        self, source: Source_contra, run: str, metric: str, index: int
    ) -> list[float] | None: ...
