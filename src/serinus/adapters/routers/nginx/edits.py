"""Pure edits of Ingresses for the NGINX Ingress canary router.

The user's stable Ingress sends traffic to one color's Service (the primary color). serinus
keeps a canary Ingress: a copy of the stable one whose paths go to the other color's Service,
with the annotations `canary: "true"` and `canary-weight` (the other color's share; the
controller gives the rest to the stable Ingress) and, for a header route, `canary-by-header`
with `canary-by-header-value` (exact) or `canary-by-header-pattern` (prefix, regex).

Colors take turns being primary: when the other color reaches 100%, the stable Ingress is
switched to it (safe: the canary already takes everything) and the canary Ingress is pointed
back at the old color with weight 0. `plan_weights` orders those writes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from serinus.adapters.routers.managed import name_of
from serinus.core.errors import RouterError
from serinus.core.spec import HeaderMatch
from serinus.core.status import COLORS, Color, other_color

API_VERSION = "networking.k8s.io/v1"
HEADER_ROUTE_ANNOTATION = "serinus.io/header-route"
MANAGED_LABEL = "serinus.io/managed-by"

Object = dict[str, Any]


@dataclass(frozen=True)
class Layout:
    services: Mapping[Color, str]
    canary_name: str
    prefix: str = "nginx.ingress.kubernetes.io"

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def color_of(self, service: str) -> Color | None:
        for color in COLORS:
            if self.services[color] == service:
                return color
        return None


@dataclass(frozen=True)
class CanaryStep:
    """Point the canary Ingress at `color` with `weight` (header annotations kept if same color)."""

    color: Color
    weight: int
    kind: Literal["canary"] = "canary"


@dataclass(frozen=True)
class StableStep:
    """Switch the stable Ingress's backends to `color`'s Service."""

    color: Color
    kind: Literal["stable"] = "stable"


Step = CanaryStep | StableStep


def _backends(spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    default = spec.get("defaultBackend")
    if isinstance(default, dict) and isinstance(default.get("service"), dict):
        yield default["service"]
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            service = (path.get("backend") or {}).get("service")
            if isinstance(service, dict):
                yield service


def primary_color(stable: Mapping[str, Any], layout: Layout) -> Color:
    """The color whose Service the stable Ingress sends traffic to."""
    annotations = (stable.get("metadata") or {}).get("annotations") or {}
    if str(annotations.get(layout.key("canary"), "")).lower() == "true":
        raise RouterError(f"Ingress {name_of(stable)!r} is a canary Ingress, not a stable one")
    colors = {layout.color_of(str(s.get("name"))) for s in _backends(stable.get("spec") or {})}
    colors.discard(None)
    if len(colors) != 1:
        found = sorted(str(s.get("name")) for s in _backends(stable.get("spec") or {}))
        raise RouterError(
            f"Ingress {name_of(stable)!r} must send traffic to exactly one color's Service "
            f"({layout.services['blue']!r} or {layout.services['green']!r}); it uses "
            f"{', '.join(found) or 'no Service'}"
        )
    return next(c for c in COLORS if c in colors)


def canary_color(canary: Mapping[str, Any], layout: Layout) -> Color | None:
    for service in _backends(canary.get("spec") or {}):
        color = layout.color_of(str(service.get("name")))
        if color is not None:
            return color
    return None


def canary_weight(canary: Mapping[str, Any], layout: Layout) -> int:
    annotations = (canary.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(layout.key("canary-weight"), "0")
    try:
        weight = int(str(raw))
    except ValueError as exc:
        raise RouterError(
            f"Ingress {name_of(canary)!r} has a non-integer {layout.key('canary-weight')}: {raw!r}"
        ) from exc
    total = int(str(annotations.get(layout.key("canary-weight-total"), "100")))
    return max(0, min(100, round(weight * 100 / total))) if total > 0 else 0


def read_weights(
    stable: Mapping[str, Any], canary: Mapping[str, Any] | None, layout: Layout
) -> dict[Color, int]:
    primary = primary_color(stable, layout)
    weights: dict[Color, int] = {primary: 100, other_color(primary): 0}
    if canary is not None:
        color = canary_color(canary, layout)
        if color is not None and color != primary:
            share = canary_weight(canary, layout)
            weights = {color: share, primary: 100 - share}
    return weights


def plan_weights(
    stable: Mapping[str, Any], weights: Mapping[Color, int], layout: Layout
) -> list[Step]:
    """The writes, in order, that give each color its weight without an unroutable moment."""
    primary = primary_color(stable, layout)
    other = other_color(primary)
    if weights[other] == 100:
        return [CanaryStep(other, 100), StableStep(other), CanaryStep(primary, 0)]
    return [CanaryStep(other, weights[other])]


def _switched(spec: Mapping[str, Any], layout: Layout, color: Color, only_colored: bool) -> Object:
    result = copy.deepcopy(dict(spec))
    target = layout.services[color]
    for service in _backends(result):
        if layout.color_of(str(service.get("name"))) is not None:
            service["name"] = target
    if only_colored:
        rules = []
        for rule in result.get("rules") or []:
            http = rule.get("http") or {}
            paths = [
                p
                for p in http.get("paths") or []
                if ((p.get("backend") or {}).get("service") or {}).get("name") == target
            ]
            if paths or not http:
                rules.append({**rule, "http": {**http, "paths": paths}} if http else rule)
        if "rules" in result:
            result["rules"] = rules
        default = result.get("defaultBackend")
        if isinstance(default, dict) and (default.get("service") or {}).get("name") != target:
            result.pop("defaultBackend")
    return result


def with_stable_color(stable: Mapping[str, Any], layout: Layout, color: Color) -> Object:
    result = copy.deepcopy(dict(stable))
    result["spec"] = _switched(stable.get("spec") or {}, layout, color, only_colored=False)
    return result


def _canary_keys(layout: Layout) -> set[str]:
    names = (
        "canary",
        "canary-weight",
        "canary-weight-total",
        "canary-by-header",
        "canary-by-header-value",
        "canary-by-header-pattern",
        "canary-by-cookie",
    )
    return {layout.key(n) for n in names} | {HEADER_ROUTE_ANNOTATION}


@dataclass(frozen=True)
class HeaderRoute:
    """The header route the canary Ingress carries (kept as JSON in an annotation)."""

    name: str
    color: Color
    matches: tuple[HeaderMatch, ...]

    def to_annotation(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "color": self.color,
                "matches": [m.model_dump(by_alias=True, exclude_none=True) for m in self.matches],
            },
            sort_keys=True,
        )

    @classmethod
    def from_annotation(cls, text: str) -> HeaderRoute:
        data = json.loads(text)
        color: Color = "green" if data["color"] == "green" else "blue"
        matches = tuple(HeaderMatch.model_validate(m) for m in data["matches"])
        return cls(str(data["name"]), color, matches)


def header_route(name: str, matches: Sequence[HeaderMatch], color: Color) -> HeaderRoute:
    if len(matches) != 1:
        raise RouterError(
            f"header route {name!r}: an NGINX canary matches exactly one header, got {len(matches)}"
        )
    return HeaderRoute(name, color, tuple(matches))


def header_route_of(canary: Mapping[str, Any] | None) -> HeaderRoute | None:
    if canary is None:
        return None
    annotations = (canary.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(HEADER_ROUTE_ANNOTATION)
    return HeaderRoute.from_annotation(str(text)) if text else None


def _header_annotations(route: HeaderRoute, layout: Layout) -> dict[str, str]:
    match = route.matches[0]
    value = match.header_value
    result = {layout.key("canary-by-header"): match.header_name}
    if value.exact is not None:
        result[layout.key("canary-by-header-value")] = value.exact
    elif value.prefix is not None:
        result[layout.key("canary-by-header-pattern")] = f"^{re.escape(value.prefix)}.*"
    else:
        result[layout.key("canary-by-header-pattern")] = str(value.regex)
    return result


def canary_ingress(
    stable: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    layout: Layout,
    color: Color,
    weight: int,
    header: HeaderRoute | Literal["keep"] | None = "keep",
) -> Object:
    """The canary Ingress: the stable one's current spec, pointed at `color` with `weight`.

    `header`: "keep" keeps the existing canary's header route, None drops it. A header route
    to the canary's color becomes `canary-by-header` annotations; one to the stable Ingress's
    color needs the canary weight at 0 (the requests then reach it anyway), else RouterError.
    Built on the existing object, so an unchanged canary compares equal (no write).
    """
    if not 0 <= weight <= 100:
        raise RouterError(f"canary weight must be between 0 and 100, got {weight}")
    route = header_route_of(existing) if header == "keep" else header
    if route is not None and route.color != color and weight > 0:
        raise RouterError(
            f"header route {route.name!r} sends its requests to {route.color}, which the "
            f"stable Ingress serves; NGINX cannot keep them there while {color} gets {weight}% "
            "through the canary Ingress (remove the header route first)"
        )
    meta = stable.get("metadata") or {}
    keys = _canary_keys(layout)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in keys}
    if route is not None:
        annotations[HEADER_ROUTE_ANNOTATION] = route.to_annotation()
        if route.color == color:
            annotations.update(_header_annotations(route, layout))
    annotations[layout.key("canary")] = "true"
    annotations[layout.key("canary-weight")] = str(weight)
    result: Object = copy.deepcopy(dict(existing)) if existing is not None else {}
    result["apiVersion"] = API_VERSION
    result["kind"] = "Ingress"
    metadata = result.setdefault("metadata", {})
    metadata["name"] = layout.canary_name
    metadata["labels"] = {**(meta.get("labels") or {}), MANAGED_LABEL: "serinus"}
    metadata["annotations"] = annotations
    if meta.get("namespace"):
        metadata["namespace"] = meta["namespace"]
    result["spec"] = _switched(stable.get("spec") or {}, layout, color, only_colored=True)
    return result
