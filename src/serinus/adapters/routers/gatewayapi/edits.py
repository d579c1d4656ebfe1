"""Pure edits of Gateway API HTTPRoutes for the Gateway API traffic router.

Managed rules are the `spec.rules[]` entries named in the spec (`rules: [...]`), or every rule
when none is named, never serinus's own header rules (named `serinus-<name>`). In a managed
rule serinus owns the split of `backendRefs` between the colors' Services; every other rule
and field is kept. Weights are written as percentages (Gateway API weights are proportions, so
they are read back by apportioning them to 100, e.g. 1:1 reads as 50/50).

A header route is a rule named `serinus-<name>` placed first: it matches what the managed
rules match plus the headers (Gateway API ranks rules with more header matches higher for the
same path anyway) and sends everything to one color.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serinus.adapters.routers.managed import name_of, select_managed
from serinus.core.errors import RouterError
from serinus.core.spec import HeaderMatch
from serinus.core.status import COLORS, Color
from serinus.core.weights import apportion

API_VERSION = "gateway.networking.k8s.io/v1"
READABLE_API_VERSIONS = ("gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1")
HEADER_RULE_PREFIX = "serinus-"
MAX_MATCHES_PER_RULE = 64
_DEFAULT_MATCH = {"path": {"type": "PathPrefix", "value": "/"}}

Object = dict[str, Any]


@dataclass(frozen=True)
class Layout:
    services: Mapping[Color, str]  # the Service of each color
    rules: tuple[str, ...] = ()  # empty: every rule
    namespace: str = "default"  # the HTTPRoute's namespace (a backendRef's default)

    def color_of(self, ref: Mapping[str, Any]) -> Color | None:
        if ref.get("group", "") not in ("", "core") or ref.get("kind", "Service") != "Service":
            return None
        if ref.get("namespace", self.namespace) != self.namespace:
            return None
        for color in COLORS:
            if ref.get("name") == self.services[color]:
                return color
        return None


def header_rule_name(name: str) -> str:
    return f"{HEADER_RULE_PREFIX}{name}"


def _rules(route: Mapping[str, Any]) -> list[Object]:
    rules = (route.get("spec") or {}).get("rules")
    return list(rules) if isinstance(rules, list) else []


def _is_header_rule(rule: Mapping[str, Any]) -> bool:
    return str(rule.get("name", "")).startswith(HEADER_RULE_PREFIX)


def managed_indexes(route: Mapping[str, Any], layout: Layout) -> list[int]:
    owner = f"HTTPRoute {name_of(route)!r}"
    return select_managed(_rules(route), layout.rules, _is_header_rule, owner, "rule")


def _colored(route: Mapping[str, Any], index: int, layout: Layout) -> dict[Color, int]:
    rule = _rules(route)[index]
    label = repr(rule.get("name")) if rule.get("name") else f"#{index}"
    refs = rule.get("backendRefs")
    if not isinstance(refs, list) or not refs:
        raise RouterError(f"HTTPRoute {name_of(route)!r} rule {label} has no backendRefs")
    found: dict[Color, int] = {}
    for position, ref in enumerate(refs):
        color = layout.color_of(ref)
        if color is None:
            raise RouterError(
                f"HTTPRoute {name_of(route)!r} rule {label} sends traffic to "
                f"{ref.get('kind', 'Service')} {ref.get('name')!r}, which is neither color's "
                f"Service ({layout.services['blue']!r} or {layout.services['green']!r})"
            )
        if color in found:
            raise RouterError(
                f"HTTPRoute {name_of(route)!r} rule {label} refers to {color}'s Service twice"
            )
        found[color] = position
    return found


def read_weights(route: Mapping[str, Any], layout: Layout) -> list[dict[Color, int]]:
    """Each managed rule's split between the colors, as percentages."""
    result = []
    for index in managed_indexes(route, layout):
        refs = _rules(route)[index]["backendRefs"]
        positions = _colored(route, index, layout)
        raw = [int(refs[positions[c]].get("weight", 1)) if c in positions else 0 for c in COLORS]
        result.append(dict(zip(COLORS, apportion(raw, 100), strict=True)))
    return result


def _as_v1(route: Mapping[str, Any]) -> Object:
    api_version = str(route.get("apiVersion", ""))
    if api_version not in READABLE_API_VERSIONS:
        raise RouterError(
            f"{name_of(route)!r} has apiVersion {api_version!r}; expected one of "
            + ", ".join(READABLE_API_VERSIONS)
        )
    result = copy.deepcopy(dict(route))
    result["apiVersion"] = API_VERSION
    return result


def with_weights(route: Mapping[str, Any], layout: Layout, weights: Mapping[Color, int]) -> Object:
    result = _as_v1(route)
    rules = result["spec"]["rules"]
    for index in managed_indexes(result, layout):
        positions = _colored(result, index, layout)
        refs = rules[index]["backendRefs"]
        for color in COLORS:
            if color in positions:
                refs[positions[color]]["weight"] = weights[color]
            elif weights[color] > 0:
                new: Object = {"name": layout.services[color]}
                if "port" in refs[0]:
                    new["port"] = refs[0]["port"]
                refs.append({**new, "weight": weights[color]})
    return result


def _header_matches(matches: Sequence[HeaderMatch]) -> list[Object]:
    headers: list[Object] = []
    for match in matches:
        value = match.header_value
        if value.exact is not None:
            headers.append({"name": match.header_name, "type": "Exact", "value": value.exact})
        elif value.prefix is not None:
            pattern = f"^{re.escape(value.prefix)}.*"
            headers.append(
                {"name": match.header_name, "type": "RegularExpression", "value": pattern}
            )
        else:
            headers.append(
                {"name": match.header_name, "type": "RegularExpression", "value": value.regex}
            )
    return headers


def with_header_route(
    route: Mapping[str, Any],
    layout: Layout,
    name: str,
    matches: Sequence[HeaderMatch],
    color: Color,
) -> Object:
    result = _as_v1(without_header_route(route, name))
    rules = result["spec"]["rules"]
    indexes = managed_indexes(result, layout)
    for index in indexes:
        _colored(result, index, layout)
    headers = _header_matches(matches)
    ours = {h["name"].lower() for h in headers}
    conditions: list[Object] = []
    for index in indexes:
        for condition in rules[index].get("matches") or [_DEFAULT_MATCH]:
            combined = copy.deepcopy(dict(condition))
            kept = [h for h in combined.get("headers") or [] if h["name"].lower() not in ours]
            combined["headers"] = kept + copy.deepcopy(headers)
            if combined not in conditions:
                conditions.append(combined)
    if len(conditions) > MAX_MATCHES_PER_RULE:
        raise RouterError(
            f"HTTPRoute {name_of(route)!r}: a header route over the managed rules needs "
            f"{len(conditions)} matches, more than the {MAX_MATCHES_PER_RULE} a rule may have"
        )
    first = rules[indexes[0]]
    ref: Object = {"name": layout.services[color], "weight": 100}
    if first["backendRefs"] and "port" in first["backendRefs"][0]:
        ref["port"] = first["backendRefs"][0]["port"]
    rule: Object = {"name": header_rule_name(name), "matches": conditions, "backendRefs": [ref]}
    for key in ("filters", "timeouts"):
        if key in first:
            rule[key] = copy.deepcopy(first[key])
    rules.insert(0, rule)
    return result


def without_header_route(route: Mapping[str, Any], name: str) -> Object:
    result = _as_v1(route)
    spec = result.setdefault("spec", {})
    if "rules" in spec:
        spec["rules"] = [r for r in spec["rules"] if r.get("name") != header_rule_name(name)]
    return result


def header_route_names(route: Mapping[str, Any]) -> list[str]:
    return [
        str(rule["name"])[len(HEADER_RULE_PREFIX) :]
        for rule in _rules(route)
        if _is_header_rule(rule)
    ]
