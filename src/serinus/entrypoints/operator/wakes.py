"""What wakes a Rollout's driver, as pure functions of what the watch cache holds.

- a new generation (its spec changed), a new pending intent (an operation was recorded) or the
  dry-run annotation set or removed (metadata only: the generation stays): `wake_signature` of
  the Rollout as watched;
- a change to a routing object it routes (`routed_objects` of its spec, kept by `RouteIndex`
  for the cache's listener): someone edited the weights by hand, and the rollout puts them back
  at once instead of at its next timer;
- a change to its Deployments, pods or Services: found by their rollout label (drivers.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from serinus.adapters.kube.resources import (
    DESTINATION_RULES,
    HTTP_ROUTES,
    INGRESSES,
    VIRTUAL_SERVICES,
    Resource,
)
from serinus.core.spec import Rollout
from serinus.entrypoints.operator.dry_run import requested

Key = tuple[str, str]  # a Rollout: namespace, name
Routed = tuple[Resource, str, str]  # a routing object: resource, namespace, name


@dataclass(frozen=True)
class WakeSignature:
    """What, in a Rollout as watched, should wake its driver when it changes."""

    generation: int
    pending: frozenset[int]  # the ids of intents not consumed yet
    dry_run: bool  # serinus.io/dry-run: "true"

    def wakes(self, before: WakeSignature | None) -> bool:
        """Whether this version should wake a driver that last saw `before` (None: nothing)."""
        if before is None:
            return True
        return (
            self.generation != before.generation
            or bool(self.pending - before.pending)
            or self.dry_run != before.dry_run
        )


def wake_signature(body: Mapping[str, Any]) -> WakeSignature:
    """The Rollout's generation, pending intents and dry-run request."""
    generation = int((body.get("metadata") or {}).get("generation") or 0)
    intents = (body.get("status") or {}).get("intents") or []
    pending = frozenset(int(r["id"]) for r in intents if not r.get("consumed") and "id" in r)
    return WakeSignature(generation, pending, requested(body))


def routed_objects(rollout: Rollout) -> frozenset[Routed]:
    """The routing objects the rollout's router reads and writes (a change there wakes it)."""
    namespace = rollout.metadata.namespace
    routing = rollout.spec.traffic_routing
    found: set[Routed] = set()
    if routing.istio is not None:
        service = routing.istio.virtual_service
        found.add((VIRTUAL_SERVICES, service.namespace or namespace, service.name))
        rule = routing.istio.destination_rule
        if rule is not None:
            found.add((DESTINATION_RULES, rule.namespace or namespace, rule.name))
    if routing.gateway_api is not None:
        route = routing.gateway_api
        found.add((HTTP_ROUTES, route.namespace or namespace, route.http_route))
    if routing.nginx is not None:
        for name in (routing.nginx.stable_ingress, routing.nginx.canary_ingress_name):
            found.add((INGRESSES, namespace, name))
    return frozenset(found)


class RouteIndex:
    """Which rollouts route which routing objects (several may share one VirtualService)."""

    def __init__(self) -> None:
        self._routed: dict[Key, frozenset[Routed]] = {}
        self._rollouts: dict[Routed, set[Key]] = {}

    def route(self, key: Key, routed: Iterable[Routed]) -> None:
        """`key`'s rollout routes exactly `routed` now (empty: it is gone)."""
        for old in self._routed.pop(key, frozenset()):
            keys = self._rollouts.get(old, set())
            keys.discard(key)
            if not keys:
                self._rollouts.pop(old, None)
        if routed := frozenset(routed):
            self._routed[key] = routed
            for new in routed:
                self._rollouts.setdefault(new, set()).add(key)

    def routing(self, obj: Routed) -> set[Key]:
        """The rollouts that route `obj`."""
        return set(self._rollouts.get(obj, ()))
