"""Pure edits of Istio VirtualServices and DestinationRules for the Istio traffic router.

Every function takes objects as read from the API (apiVersion networking.istio.io/v1, v1beta1
or v1alpha3) and returns a new object for `networking.istio.io/v1` (the input is never
modified), or raises before anything is written:

- NotFound for a named route the VirtualService does not have;
- RouterError for a managed route serinus cannot own (a destination that is neither color, a
  color twice, no destinations at all) or a DestinationRule lacking a color's subset.

Managed routes are the `spec.http[]` entries named in the spec (`routes: [primary]`), or every
HTTP route when none is named, never serinus's own header routes. Within them serinus owns
the split between the two colors and nothing else: every other route and field is kept.

A color is a destination: host-level routing maps each color to a host (a Service per color);
subset-level routing maps it to a subset of the DestinationRule's host.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serinus.adapters.routers.managed import name_of, select_managed
from serinus.core.errors import RouterError
from serinus.core.spec import HeaderMatch
from serinus.core.status import COLORS, Color
from serinus.core.weights import apportion

API_VERSION = "networking.istio.io/v1"
READABLE_API_VERSIONS = (
    "networking.istio.io/v1",
    "networking.istio.io/v1beta1",
    "networking.istio.io/v1alpha3",
)
HEADER_ROUTE_PREFIX = "serinus-"
# Fields of a route that describe where and how it forwards: not copied into a header route.
_NOT_COPIED = {"name", "match", "route", "mirror", "mirrorPercentage", "mirrorPercent", "mirrors"}

Object = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """Where one color's traffic goes: a host, and a subset of it in subset-level routing."""

    host: str
    subset: str | None = None

    def matches(self, destination: Mapping[str, Any], namespace: str) -> bool:
        host = str(destination.get("host", ""))
        return same_host(host, self.host, namespace) and destination.get("subset") == self.subset

    def destination(self, port: Any = None) -> Object:
        result: Object = {"host": self.host}
        if self.subset is not None:
            result["subset"] = self.subset
        if port is not None:
            result["port"] = copy.deepcopy(port)
        return result

    def describe(self) -> str:
        return self.host if self.subset is None else f"{self.host} subset {self.subset}"


@dataclass(frozen=True)
class Layout:
    """Which routes serinus manages and what each color's destination is."""

    targets: Mapping[Color, Target]
    routes: tuple[str, ...] = ()  # empty: every HTTP route
    namespace: str = "default"  # to compare short and fully qualified host names

    def color_of(self, destination: Mapping[str, Any]) -> Color | None:
        for color in COLORS:
            if self.targets[color].matches(destination, self.namespace):
                return color
        return None


def same_host(a: str, b: str, namespace: str) -> bool:
    """Whether two hosts name the same Service (`web`, `web.ns`, `web.ns.svc.cluster.local`)."""
    return _qualified(a, namespace) == _qualified(b, namespace)


def _qualified(host: str, namespace: str) -> str:
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}.svc.cluster.local"
    if len(parts) == 2:
        return f"{host}.svc.cluster.local"
    if len(parts) == 3 and parts[2] == "svc":
        return f"{host}.cluster.local"
    return host


def header_route_name(name: str) -> str:
    return f"{HEADER_ROUTE_PREFIX}{name}"


# --- VirtualService ------------------------------------------------------------------------------


def _http(vs: Mapping[str, Any]) -> list[Object]:
    http = (vs.get("spec") or {}).get("http")
    return list(http) if isinstance(http, list) else []


def _is_header_route(route: Mapping[str, Any]) -> bool:
    return str(route.get("name", "")).startswith(HEADER_ROUTE_PREFIX)


def managed_indexes(vs: Mapping[str, Any], layout: Layout) -> list[int]:
    """Indexes in `spec.http` of the managed routes; NotFound names a missing route."""
    owner = f"VirtualService {name_of(vs)!r}"
    return select_managed(_http(vs), layout.routes, _is_header_route, owner, "HTTP route")


def _colored(vs: Mapping[str, Any], index: int, layout: Layout) -> dict[Color, int]:
    """Position in `route[]` of each color's destination in one managed route."""
    route = _http(vs)[index]
    label = repr(route.get("name")) if route.get("name") else f"#{index}"
    destinations = route.get("route")
    if not isinstance(destinations, list) or not destinations:
        raise RouterError(
            f"VirtualService {name_of(vs)!r} route {label} has no destinations to weigh "
            "(a redirect, directResponse or delegate route cannot be managed)"
        )
    found: dict[Color, int] = {}
    for position, entry in enumerate(destinations):
        destination = entry.get("destination") or {}
        color = layout.color_of(destination)
        if color is None:
            wanted = " or ".join(layout.targets[c].describe() for c in COLORS)
            raise RouterError(
                f"VirtualService {name_of(vs)!r} route {label} sends traffic to "
                f"{destination.get('host')!r}"
                + (f" subset {destination['subset']!r}" if destination.get("subset") else "")
                + f", which is neither color ({wanted}); serinus manages the whole split of "
                "a managed route"
            )
        if color in found:
            raise RouterError(
                f"VirtualService {name_of(vs)!r} route {label} has two destinations for "
                f"{color} ({layout.targets[color].describe()})"
            )
        found[color] = position
    return found


def _route_weights(route: Mapping[str, Any], positions: Mapping[Color, int]) -> dict[Color, int]:
    destinations = route["route"]
    raw: dict[Color, int] = {color: 0 for color in COLORS}
    for color, position in positions.items():
        weight = destinations[position].get("weight")
        # Istio: a lone destination without a weight gets everything; otherwise absent means 0.
        raw[color] = (100 if len(destinations) == 1 else 0) if weight is None else int(weight)
    if sum(raw.values()) == 100:
        return raw
    shares = apportion([raw[color] for color in COLORS], 100)
    return dict(zip(COLORS, shares, strict=True))


def read_weights(vs: Mapping[str, Any], layout: Layout) -> list[dict[Color, int]]:
    """The colors' weights in each managed route, in route order."""
    return [
        _route_weights(_http(vs)[index], _colored(vs, index, layout))
        for index in managed_indexes(vs, layout)
    ]


def _as_v1(vs: Mapping[str, Any]) -> Object:
    api_version = str(vs.get("apiVersion", ""))
    if api_version not in READABLE_API_VERSIONS:
        raise RouterError(
            f"{name_of(vs)!r} has apiVersion {api_version!r}; expected one of "
            + ", ".join(READABLE_API_VERSIONS)
        )
    result = copy.deepcopy(dict(vs))
    result["apiVersion"] = API_VERSION
    return result


def with_weights(vs: Mapping[str, Any], layout: Layout, weights: Mapping[Color, int]) -> Object:
    """The VirtualService with each managed route split by `weights` (integers summing to 100).

    A color's destination keeps its place and fields; a color missing from a route is appended
    (with the other color's port) only when its weight is above 0.
    """
    result = _as_v1(vs)
    http = result["spec"]["http"]
    for index in managed_indexes(result, layout):
        positions = _colored(result, index, layout)
        destinations = http[index]["route"]
        for color in COLORS:
            if color in positions:
                destinations[positions[color]]["weight"] = weights[color]
            elif weights[color] > 0:
                other = destinations[0].get("destination") or {}
                entry = {"destination": layout.targets[color].destination(other.get("port"))}
                destinations.append({**entry, "weight": weights[color]})
    return result


def _header_conditions(
    managed: Sequence[Mapping[str, Any]], matches: Sequence[HeaderMatch]
) -> list[Object]:
    headers: Object = {}
    for match in matches:
        value = match.header_value
        kind = (
            "exact"
            if value.exact is not None
            else "prefix"
            if value.prefix is not None
            else "regex"
        )
        headers[match.header_name.lower()] = {kind: getattr(value, kind)}
    conditions: list[Object] = []
    for route in managed:
        route_matches = route.get("match") or []
        if not route_matches:
            return [{"headers": headers}]  # a catch-all route: headers alone
        for condition in route_matches:
            combined = copy.deepcopy(dict(condition))
            combined.pop("name", None)
            combined["headers"] = {**(combined.get("headers") or {}), **headers}
            if combined not in conditions:
                conditions.append(combined)
    return conditions


def with_header_route(
    vs: Mapping[str, Any],
    layout: Layout,
    name: str,
    matches: Sequence[HeaderMatch],
    color: Color,
) -> Object:
    """The VirtualService with route `serinus-<name>` sending matching requests to `color`.

    It goes just before the first managed route (first of all when the managed routes lead),
    matches what the managed routes match plus the headers, and copies the first managed
    route's other settings (rewrite, timeout, retries, ...), so only the destination differs.
    An existing route of that name is replaced in place.
    """
    result = _as_v1(without_header_route(vs, name))
    http = result["spec"]["http"]
    indexes = managed_indexes(result, layout)
    managed = [http[index] for index in indexes]
    for index in indexes:
        _colored(result, index, layout)  # refuse routes serinus could not own
    first = managed[0]
    port = ((first["route"][0].get("destination") or {}).get("port")) if first["route"] else None
    route: Object = {"name": header_route_name(name)}
    route["match"] = _header_conditions(managed, matches)
    route["route"] = [{"destination": layout.targets[color].destination(port), "weight": 100}]
    route.update({k: copy.deepcopy(v) for k, v in first.items() if k not in _NOT_COPIED})
    position = _position_of(vs, name)
    http.insert(indexes[0] if position is None else position, route)
    return result


def _position_of(vs: Mapping[str, Any], name: str) -> int | None:
    for index, route in enumerate(_http(vs)):
        if route.get("name") == header_route_name(name):
            return index
    return None


def without_header_route(vs: Mapping[str, Any], name: str) -> Object:
    """The VirtualService without route `serinus-<name>` (unchanged when it has none)."""
    result = _as_v1(vs)
    spec = result.setdefault("spec", {})
    if "http" in spec:
        spec["http"] = [r for r in spec["http"] if r.get("name") != header_route_name(name)]
    return result


def header_route_names(vs: Mapping[str, Any]) -> list[str]:
    return [
        str(route["name"])[len(HEADER_ROUTE_PREFIX) :]
        for route in _http(vs)
        if _is_header_route(route)
    ]


def with_mirror(
    vs: Mapping[str, Any], layout: Layout, color: Color | None, percentage: float
) -> Object:
    """Every managed route mirrors `percentage`% of its requests to `color` (None: no mirror)."""
    if not 0 <= percentage <= 100:
        raise RouterError(f"mirror percentage must be between 0 and 100, got {percentage}")
    result = _as_v1(vs)
    http = result["spec"]["http"]
    for index in managed_indexes(result, layout):
        route = http[index]
        for legacy in ("mirrorPercent", "mirrors"):
            route.pop(legacy, None)
        if color is None:
            route.pop("mirror", None)
            route.pop("mirrorPercentage", None)
            continue
        destinations = route.get("route") or [{}]
        port = (destinations[0].get("destination") or {}).get("port")
        route["mirror"] = layout.targets[color].destination(port)
        route["mirrorPercentage"] = {"value": float(percentage)}
    return result


def without_color(vs: Mapping[str, Any], layout: Layout, color: Color) -> Object:
    """Every reference to `color` removed: its weight-0 destinations, header routes, mirrors.

    Refuses (RouterError) while a managed route still gives the color traffic.
    """
    result = _as_v1(vs)
    http = result["spec"]["http"]
    target = layout.targets[color]
    for index in managed_indexes(result, layout):
        positions = _colored(result, index, layout)
        if color not in positions:
            continue
        weight = _route_weights(http[index], positions)[color]
        if weight > 0:
            raise RouterError(
                f"VirtualService {name_of(vs)!r} still sends {weight}% to {color}; "
                "shift its traffic away before removing it"
            )
        del http[index]["route"][positions[color]]
    kept = []
    for route in http:
        destinations = route.get("route") or []
        only_color = bool(destinations) and all(
            target.matches(d.get("destination") or {}, layout.namespace) for d in destinations
        )
        if _is_header_route(route) and only_color:
            continue
        mirror = route.get("mirror")
        if isinstance(mirror, Mapping) and target.matches(mirror, layout.namespace):
            route.pop("mirror", None)
            route.pop("mirrorPercentage", None)
        kept.append(route)
    result["spec"]["http"] = kept
    return result


def referenced_subsets(vs: Mapping[str, Any], host: str, namespace: str) -> set[str]:
    """Subsets of `host` any HTTP route or mirror of the VirtualService refers to."""
    found: set[str] = set()
    for route in _http(vs):
        targets = [d.get("destination") or {} for d in route.get("route") or []]
        if isinstance(route.get("mirror"), Mapping):
            targets.append(route["mirror"])
        for destination in targets:
            if same_host(str(destination.get("host", "")), host, namespace) and destination.get(
                "subset"
            ):
                found.add(str(destination["subset"]))
    return found


# --- DestinationRule -----------------------------------------------------------------------------


def subset_names(dr: Mapping[str, Any]) -> list[str]:
    return [str(s.get("name")) for s in (dr.get("spec") or {}).get("subsets") or []]


def dr_host(dr: Mapping[str, Any]) -> str:
    host = (dr.get("spec") or {}).get("host")
    if not host:
        raise RouterError(f"DestinationRule {name_of(dr)!r} has no spec.host")
    return str(host)


def require_subsets(dr: Mapping[str, Any], subsets: Sequence[str]) -> None:
    have = subset_names(dr)
    missing = [s for s in subsets if s not in have]
    if missing:
        raise RouterError(
            f"DestinationRule {name_of(dr)!r} has no subset "
            + ", ".join(repr(s) for s in missing)
            + f" (its subsets: {', '.join(have) or 'none'}); add it, or let serinus manage "
            "subsets (destinationRule.manageSubsets: true)"
        )


def with_subset(dr: Mapping[str, Any], subset: str, label: str, color: Color) -> Object | None:
    """The DestinationRule with subset `subset` selecting pods labelled `label: color`.

    None when it already has a subset of that name (whatever it selects: it is the user's).
    """
    if subset in subset_names(dr):
        return None
    result = _as_v1(dr)
    subsets = result.setdefault("spec", {}).setdefault("subsets", [])
    subsets.append({"name": subset, "labels": {label: color}})
    return result


def without_subset(dr: Mapping[str, Any], subset: str) -> Object | None:
    """The DestinationRule without `subset`; None when it has no such subset."""
    if subset not in subset_names(dr):
        return None
    result = _as_v1(dr)
    result["spec"]["subsets"] = [s for s in result["spec"]["subsets"] if s.get("name") != subset]
    return result
