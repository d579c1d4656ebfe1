"""Shifting traffic in an Istio VirtualService, as a pure dict -> dict transformation.

The input is a VirtualService as parsed from YAML or JSON (apiVersion networking.istio.io/v1,
v1beta1 or v1alpha3). For every HTTP route (`spec.http[]`, or only the routes with a given
`name`), the destination matching the target gets exactly P% and the others share the rest in
proportion (`serinus.core.weights.shift`). The target is appended to a route when P > 0 and it
is missing, and removed when P == 0.

What stays as it was: every other field, the order of keys, and the order of destinations
(the result is a deep copy; the input is never modified). Every destination of a shifted route
gets an explicit integer `weight`, even a lone destination with 100. An absent weight counts
as 100 when the destination is alone in its route, else as 0 (Istio's reading).

Scope: only `http` routes are shifted; `tcp` and `tls` routes are left untouched, as are HTTP
routes without destinations (`redirect`, `directResponse` or `delegate`).

Target matching: a destination matches when its `host` equals the target host and, if the
target names a subset, its `subset` equals it (without one, any subset of the host matches).
Several matches in one route is an error, never a guess: choosing one would make a second
shift pick another and break idempotence.

The I/O around it (reading files, the API server) lives in the entrypoints and adapters; the
in-cluster variant reuses `shift_virtual_service` on the object it read.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from serinus.core.errors import InvalidInput, NotFound
from serinus.core.weights import shift, shift_layout

API_VERSIONS = (
    "networking.istio.io/v1",
    "networking.istio.io/v1beta1",
    "networking.istio.io/v1alpha3",
)
KIND = "VirtualService"


@dataclass(frozen=True)
class ShiftTarget:
    """The destination that gets the traffic: a service host, optionally one of its subsets."""

    host: str
    subset: str | None = None

    def describe(self) -> str:
        return self.host if self.subset is None else f"{self.host} (subset {self.subset})"

    def as_destination(self) -> dict[str, str]:
        destination = {"host": self.host}
        if self.subset is not None:
            destination["subset"] = self.subset
        return destination


@dataclass(frozen=True)
class TrafficShift:
    """Give `target` exactly `percentage` of every HTTP route, or only of the routes `route`."""

    target: ShiftTarget
    percentage: int
    route: str | None = None


ShiftArgument = Literal["target", "percentage", "route"]


class InvalidShift(InvalidInput):
    """The shift does not fit the VirtualService; `argument` names the part of the request."""

    def __init__(self, argument: ShiftArgument, problems: list[str], source: str) -> None:
        self.argument = argument
        super().__init__(problems, source)


class UnknownRoute(NotFound):
    """No HTTP route has the requested name; `available` lists the names there are."""

    def __init__(self, route: str, available: Sequence[str], source: str) -> None:
        self.route = route
        self.available = list(available)
        listing = (
            "available: " + ", ".join(repr(name) for name in self.available)
            if self.available
            else "it has no named HTTP routes (spec.http[].name)"
        )
        super().__init__(f"{source}: no HTTP route named {route!r}; {listing}")


def is_virtual_service(document: object) -> bool:
    """Whether a parsed document claims to be a VirtualService (its apiVersion is checked later)."""
    return isinstance(document, Mapping) and document.get("kind") == KIND


def describe(document: Mapping[str, Any]) -> str:
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return f"{KIND} {name!r}" if isinstance(name, str) else KIND


def http_route_names(document: Mapping[str, Any]) -> list[str]:
    """The names of the HTTP routes, in order (unnamed routes are left out)."""
    spec = document.get("spec")
    rules = spec.get("http") if isinstance(spec, Mapping) else None
    if not isinstance(rules, list):
        return []
    return [
        rule["name"]
        for rule in rules
        if isinstance(rule, Mapping) and isinstance(rule.get("name"), str)
    ]


def shift_virtual_service(
    document: Mapping[str, Any], request: TrafficShift, source: str | None = None
) -> dict[str, Any]:
    """A copy of `document` with the HTTP route weights shifted as `request` says.

    Raises InvalidInput (naming the field path) for a document that is not a supported
    VirtualService, UnknownRoute when `request.route` names no HTTP route, and InvalidShift
    when the target is ambiguous in a route or no other destination can take 100 - P.
    """
    source = source or describe(document)
    if not 0 <= request.percentage <= 100:
        raise InvalidShift(
            "percentage",
            [f"percentage: must be between 0 and 100, got {request.percentage}"],
            source,
        )
    result = copy.deepcopy(dict(document))
    rules = _http_rules(result, source)
    if request.route is not None and request.route not in http_route_names(result):
        raise UnknownRoute(request.route, http_route_names(result), source)

    shifted = 0
    for index, rule in enumerate(rules):
        if request.route is not None and rule.get("name") != request.route:
            continue
        path = f"spec.http[{index}]"
        if "route" not in rule:
            if request.route is not None:
                raise InvalidShift(
                    "route",
                    [
                        f"{path} ({request.route}): has no route destinations to shift "
                        "(it redirects, answers directly or delegates)"
                    ],
                    source,
                )
            continue
        rule["route"] = _shifted_destinations(rule["route"], request, f"{path}.route", source)
        shifted += 1
    if shifted == 0:
        raise InvalidInput(
            [
                "spec.http: no HTTP route with destinations to shift (tcp and tls routes are "
                "not supported)"
            ],
            source,
        )
    return result


def shift_documents(
    documents: Sequence[Any], request: TrafficShift, source: str = "input"
) -> list[Any]:
    """Shift every VirtualService in a multi-document stream; pass other documents through.

    With `request.route`, VirtualServices without a route of that name pass through unchanged
    (after validation); it is an error when none has it, or when there is no VirtualService.
    """
    found = [index for index, document in enumerate(documents) if is_virtual_service(document)]
    if not found:
        raise InvalidInput([f"(document): no {KIND} (kind: {KIND}) found"], source)
    labels = {index: _document_label(documents, index, source) for index in found}
    for index in found:
        _http_rules(documents[index], labels[index])  # every VirtualService must be valid
    if request.route is not None:
        available = [name for index in found for name in http_route_names(documents[index])]
        if request.route not in available:
            raise UnknownRoute(request.route, list(dict.fromkeys(available)), source)

    result = [copy.deepcopy(document) for document in documents]
    for index in found:
        document = documents[index]
        if request.route is None or request.route in http_route_names(document):
            result[index] = shift_virtual_service(document, request, labels[index])
    return result


def _document_label(documents: Sequence[Any], index: int, source: str) -> str:
    label = f"{source}: {describe(documents[index])}"
    return f"{label} (document {index + 1})" if len(documents) > 1 else label


def _http_rules(document: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    """The `spec.http` rules of a supported VirtualService, checked enough to shift them."""
    api_version = document.get("apiVersion")
    if api_version not in API_VERSIONS:
        raise InvalidInput(
            [f"apiVersion: {api_version!r} is not supported; use one of {', '.join(API_VERSIONS)}"],
            source,
        )
    if document.get("kind") != KIND:
        raise InvalidInput([f"kind: expected {KIND}, got {document.get('kind')!r}"], source)
    spec = document.get("spec")
    if not isinstance(spec, Mapping):
        raise InvalidInput(["spec: expected a mapping"], source)
    rules = spec.get("http", [])
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise InvalidInput(["spec.http: expected a list of HTTP routes (mappings)"], source)

    problems: list[str] = []
    for index, rule in enumerate(rules):
        if "route" in rule:
            problems.extend(_destination_problems(rule["route"], f"spec.http[{index}].route"))
    if problems:
        raise InvalidInput(problems, source)
    return rules


def _destination_problems(route: object, path: str) -> list[str]:
    if not isinstance(route, list) or not route:
        return [f"{path}: expected a non-empty list of destinations"]
    problems = []
    for index, entry in enumerate(route):
        at = f"{path}[{index}]"
        destination = entry.get("destination") if isinstance(entry, Mapping) else None
        if not isinstance(destination, Mapping):
            problems.append(f"{at}.destination: required mapping is missing")
            continue
        if not isinstance(destination.get("host"), str) or not destination["host"]:
            problems.append(f"{at}.destination.host: expected a non-empty string")
        if "subset" in destination and not isinstance(destination["subset"], str):
            problems.append(f"{at}.destination.subset: expected a string")
        weight = entry.get("weight")
        if "weight" in entry and (
            isinstance(weight, bool) or not isinstance(weight, int) or weight < 0
        ):
            problems.append(f"{at}.weight: expected a non-negative integer, got {weight!r}")
    return problems


def _current_weights(route: list[dict[str, Any]]) -> list[int]:
    if len(route) == 1:
        return [route[0].get("weight", 100)]
    return [entry.get("weight", 0) for entry in route]


def _target_index(
    route: list[dict[str, Any]], target: ShiftTarget, path: str, source: str
) -> int | None:
    candidates = [
        index
        for index, entry in enumerate(route)
        if entry["destination"]["host"] == target.host
        and (target.subset is None or entry["destination"].get("subset") == target.subset)
    ]
    if len(candidates) > 1:
        subsets = ", ".join(
            repr(route[i]["destination"].get("subset", "(none)")) for i in candidates
        )
        hint = "name one with a subset" if target.subset is None else "remove the duplicates"
        raise InvalidShift(
            "target",
            [
                f"{path}: target {target.describe()} matches {len(candidates)} destinations "
                f"(subsets {subsets}); {hint}"
            ],
            source,
        )
    return candidates[0] if candidates else None


def _shifted_destinations(
    route: list[dict[str, Any]], request: TrafficShift, path: str, source: str
) -> list[dict[str, Any]]:
    target = _target_index(route, request.target, path, source)
    try:
        weights = shift(_current_weights(route), target, request.percentage)
    except ValueError as exc:
        raise InvalidShift(
            "percentage",
            [
                f"{path}: {request.target.describe()} is the only destination, so nothing "
                f"would take the remaining {100 - request.percentage}% "
                "(name another route to shift)"
            ],
            source,
        ) from exc
    layout = shift_layout(len(route), target, request.percentage)
    shifted: list[dict[str, Any]] = []
    for origin, weight in zip(layout, weights, strict=True):
        entry: dict[str, Any] = (
            {"destination": request.target.as_destination()} if origin is None else route[origin]
        )
        entry["weight"] = weight
        shifted.append(entry)
    return shifted
