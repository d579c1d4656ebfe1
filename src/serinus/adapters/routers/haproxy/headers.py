"""Header routes as HAProxy sees them: typed rules parsed from spec-shaped match dicts.

HAProxy cannot add ACLs or `use_backend` rules at runtime, and a header's *name* is part of the
sample fetch (`req.fhdr(X-Canary)`), so each header route must be known when the configuration
is rendered. The router therefore takes the Rollout's `setHeaderRoute` steps up front
(`declare`); at runtime a route is only switched on (to a color) or off through a map file.
A route name may appear in several steps with different matches: each distinct list of matches
is one *variant* of the route, and at most one variant is switched on at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from serinus.adapters.routers.inputs import parse_header_matches
from serinus.core.errors import InvalidInput, RouterError
from serinus.core.spec import HeaderMatch, SetHeaderRoute

MatchKind = Literal["exact", "prefix", "regex"]


@dataclass(frozen=True)
class HeaderRule:
    header: str
    kind: MatchKind
    value: str


Rules = tuple[HeaderRule, ...]


@dataclass(frozen=True)
class DeclaredRoute:
    name: str
    variants: tuple[Rules, ...]


def rules_from_models(matches: Sequence[HeaderMatch]) -> Rules:
    rules: list[HeaderRule] = []
    for match in matches:
        value = match.header_value
        kind: MatchKind
        if value.exact is not None:
            kind, text = "exact", value.exact
        elif value.prefix is not None:
            kind, text = "prefix", value.prefix
        else:
            kind, text = "regex", value.regex or ""
        if any(char in text for char in "\r\n\0"):
            raise InvalidInput(
                [f"headerValue.{kind}: {text!r} holds a line break or NUL, which no header can"]
            )
        rules.append(HeaderRule(match.header_name, kind, text))
    return tuple(rules)


def parse_matches(route: str, matches: Sequence[Mapping[str, Any]]) -> Rules:
    """Typed rules from dicts shaped like `HeaderMatch.model_dump(by_alias=True)`."""
    return rules_from_models(parse_header_matches(route, matches))


def declare(steps: Sequence[SetHeaderRoute]) -> tuple[DeclaredRoute, ...]:
    """The routes (in first-appearance order) and their distinct match lists.

    Steps without matches (the ones that remove a route) declare nothing.
    """
    variants: dict[str, list[Rules]] = {}
    for step in steps:
        if not step.match:
            variants.setdefault(step.name, [])
            continue
        rules = rules_from_models(step.match)
        known = variants.setdefault(step.name, [])
        if rules not in known:
            known.append(rules)
    return tuple(DeclaredRoute(name, tuple(found)) for name, found in variants.items() if found)


def declared_variant(declared: Sequence[DeclaredRoute], name: str, rules: Rules) -> int:
    """Which declared variant of route `name` has `rules`; RouterError when none does (HAProxy
    cannot add rules at runtime)."""
    routes = {route.name: route for route in declared}
    if name not in routes:
        known = ", ".join(routes) or "none"
        raise RouterError(
            f"header route {name!r} is not in this HAProxy's configuration (declared: "
            f"{known}); HAProxy takes header routes from the Rollout's setHeaderRoute steps"
        )
    variants = routes[name].variants
    if rules not in variants:
        raise RouterError(
            f"header route {name!r} was declared with other matches; HAProxy can only "
            "switch on the matches given in the Rollout's setHeaderRoute steps"
        )
    return variants.index(rules)
