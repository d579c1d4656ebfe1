"""Contract harness for the Kubernetes routers (Istio, Gateway API, NGINX) on the API stand-in.

The routers write objects to the stand-in; this harness observes them independently of the
routers' own code: it replays the stand-in's recorded writes to measure each color's capacity
after every write, and it evaluates a request against the written objects the way the data
plane would (first matching route, header matches, weights) to tell which color serves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kube_stand_in.kubeapi import KubeApiStandIn

from serinus.adapters.kube.resources import Resource
from serinus.core.ports import TrafficRouter
from serinus.core.status import COLORS, Color, Endpoint

State = dict[tuple[str, str, str], dict[str, Any]]  # (group, plural, name) -> object
Capacity = Callable[[State], dict[Color, int]]
Destination = Callable[[State, Mapping[str, str]], Color | None]


def pod_endpoints(color: Color) -> list[Endpoint]:
    base = 9000 if color == "blue" else 9100
    return [Endpoint(host="10.0.0.1", port=base + i, ready=True, replica=i) for i in range(4)]


async def sync_ready_pods(router: TrafficRouter) -> None:
    """What the engine does before any write: tell the router what the platform reports."""
    for color in COLORS:
        await router.sync_endpoints(color, pod_endpoints(color)[:2])


class KubeRouterHarness:
    has_preview = False

    def __init__(
        self,
        api: KubeApiStandIn,
        router: TrafficRouter,
        watched: list[Resource],
        capacity: Capacity,
        destination: Destination,
    ) -> None:
        self.api = api
        self._router = router
        self._watched = watched
        self._capacity = capacity
        self._destination = destination
        self._mark = 0
        self._start: State = {}

    @property
    def router(self) -> TrafficRouter:
        return self._router

    def endpoints(self, color: Color) -> list[Endpoint]:
        return pod_endpoints(color)

    def _states_after(self, mark: int) -> tuple[State, list[State]]:
        """The watched objects as of resourceVersion `mark`, then after each later write."""
        state: State = {}
        before: State = {}
        after: list[State] = []
        for change in self.api.changes(0):
            key = (change.group, change.plural, change.object["metadata"]["name"])
            if not any((r.group, r.plural) == key[:2] for r in self._watched):
                continue
            if change.type == "DELETED":
                state.pop(key, None)
            else:
                state[key] = change.object
            if change.resource_version <= mark:
                before = dict(state)
            else:
                after.append(dict(state))
        return before, after

    async def start_recording(self) -> None:
        self._mark = self.api.resource_version

    async def recorded_capacity(self) -> list[dict[Color, int]]:
        before, after = self._states_after(self._mark)
        return [self._capacity(before), *(self._capacity(s) for s in after)]

    async def destination(self, headers: Mapping[str, str]) -> Color:
        state, _ = self._states_after(self.api.resource_version)
        color = self._destination(state, headers)
        assert color is not None, f"no single color serves {headers} (state: {state})"
        return color

    async def preview_destination(self) -> Color | None:
        return None


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def only_color(weights: Mapping[Color, int]) -> Color | None:
    """The color that gets everything, if one does."""
    total = sum(weights.values())
    for color in COLORS:
        if total > 0 and weights.get(color, 0) == total:
            return color
    return None


# --- Istio -----------------------------------------------------------------------------------


def istio_route_weights(
    route: Mapping[str, Any], color_of: Callable[[Mapping[str, Any]], Color | None]
) -> dict[Color, int]:
    weights: dict[Color, int] = dict.fromkeys(COLORS, 0)
    destinations = route.get("route") or []
    for entry in destinations:
        color = color_of(entry.get("destination") or {})
        assert color is not None, f"a destination of neither color: {entry}"
        weight = entry.get("weight")
        weights[color] += (100 if len(destinations) == 1 else 0) if weight is None else weight
    return weights


def _istio_string_match(condition: Mapping[str, Any], value: str | None) -> bool:
    if value is None:
        return False
    if "exact" in condition:
        return value == condition["exact"]
    if "prefix" in condition:
        return value.startswith(condition["prefix"])
    if "regex" in condition:
        return re.fullmatch(condition["regex"], value) is not None
    return True


def istio_destination(
    vs: Mapping[str, Any],
    color_of: Callable[[Mapping[str, Any]], Color | None],
    headers: Mapping[str, str],
    path: str = "/",
) -> Color | None:
    """The color serving a request to `path` with `headers`: Istio's first matching route."""
    for route in vs["spec"].get("http") or []:
        conditions = route.get("match") or [{}]
        for condition in conditions:
            uri = condition.get("uri")
            if uri is not None and not _istio_string_match(uri, path):
                continue
            wanted = condition.get("headers") or {}
            if all(_istio_string_match(c, header_value(headers, n)) for n, c in wanted.items()):
                return only_color(istio_route_weights(route, color_of))
    return None


# --- Gateway API -----------------------------------------------------------------------------


def gateway_rule_weights(
    rule: Mapping[str, Any], services: Mapping[str, Color]
) -> dict[Color, int]:
    weights: dict[Color, int] = dict.fromkeys(COLORS, 0)
    for ref in rule.get("backendRefs") or []:
        weights[services[ref["name"]]] += int(ref.get("weight", 1))
    return weights


def _gateway_match(match: Mapping[str, Any], headers: Mapping[str, str], path: str) -> bool:
    wanted_path = match.get("path") or {"type": "PathPrefix", "value": "/"}
    if wanted_path.get("type") == "Exact" and path != wanted_path["value"]:
        return False
    if wanted_path.get("type", "PathPrefix") == "PathPrefix" and not path.startswith(
        wanted_path.get("value", "/")
    ):
        return False
    for header in match.get("headers") or []:
        value = header_value(headers, header["name"])
        if value is None:
            return False
        if header.get("type", "Exact") == "Exact" and value != header["value"]:
            return False
        if header.get("type") == "RegularExpression" and not re.fullmatch(header["value"], value):
            return False
    return True


def gateway_destination(
    route: Mapping[str, Any],
    services: Mapping[str, Color],
    headers: Mapping[str, str],
    path: str = "/",
) -> Color | None:
    """Gateway API precedence for one path: the matching rule with the most header matches."""
    best: tuple[int, int] | None = None
    chosen: Mapping[str, Any] | None = None
    for index, rule in enumerate(route["spec"].get("rules") or []):
        for match in rule.get("matches") or [{}]:
            if _gateway_match(match, headers, path):
                rank = (-len(match.get("headers") or []), index)
                if best is None or rank < best:
                    best, chosen = rank, rule
    return None if chosen is None else only_color(gateway_rule_weights(chosen, services))


# --- NGINX -----------------------------------------------------------------------------------


def ingress_service(ingress: Mapping[str, Any]) -> str:
    return str(ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"])


def nginx_weights(
    stable: Mapping[str, Any], canary: Mapping[str, Any] | None, services: Mapping[str, Color]
) -> dict[Color, int]:
    weights: dict[Color, int] = dict.fromkeys(COLORS, 0)
    primary = services[ingress_service(stable)]
    share = 0
    if canary is not None:
        prefix = "nginx.ingress.kubernetes.io/"
        share = int(canary["metadata"]["annotations"].get(prefix + "canary-weight", "0"))
        weights[services[ingress_service(canary)]] += share
    weights[primary] += 100 - share
    return weights


def nginx_destination(
    stable: Mapping[str, Any],
    canary: Mapping[str, Any] | None,
    services: Mapping[str, Color],
    headers: Mapping[str, str],
) -> Color | None:
    if canary is not None:
        annotations = canary["metadata"]["annotations"]
        prefix = "nginx.ingress.kubernetes.io/"
        name = annotations.get(prefix + "canary-by-header")
        if name is not None:
            value = header_value(headers, name)
            exact = annotations.get(prefix + "canary-by-header-value")
            pattern = annotations.get(prefix + "canary-by-header-pattern")
            hit = value is not None and (
                (exact is not None and value == exact)
                or (pattern is not None and re.fullmatch(pattern, value) is not None)
            )
            if hit:
                return services[ingress_service(canary)]
    return only_color(nginx_weights(stable, canary, services))
