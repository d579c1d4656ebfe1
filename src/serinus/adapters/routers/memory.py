"""An in-memory TrafficRouter for unit tests of the engine; passes the router contract suite.

It validates input exactly like the real routers, refuses weight on a color without a ready
endpoint (as last synced) like them, applies weights raise-before-lower one color at a time
and records every write (`writes`), so tests can check what the engine asked for and in what
order. `destination(headers)` tells where a request would go, `fail_next(...)` makes
the next call of a method raise (to test the engine's error paths).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serinus.adapters.routers.inputs import parse_color, parse_header_matches, validate_weights
from serinus.adapters.routers.readiness import ReadyEndpoints
from serinus.core.errors import RouterError, SerinusError
from serinus.core.spec import HeaderMatch
from serinus.core.status import COLORS, Color, Endpoint


@dataclass(frozen=True)
class MemoryHeaderRoute:
    matches: tuple[HeaderMatch, ...]
    color: Color

    def accepts(self, headers: Mapping[str, str]) -> bool:
        lowered = {name.lower(): value for name, value in headers.items()}
        return all(_matches(m, lowered.get(m.header_name.lower())) for m in self.matches)


def _matches(match: HeaderMatch, value: str | None) -> bool:
    if value is None:
        return False
    wanted = match.header_value
    if wanted.exact is not None:
        return value == wanted.exact
    if wanted.prefix is not None:
        return value.startswith(wanted.prefix)
    return re.fullmatch(wanted.regex or "", value) is not None


class MemoryRouter:
    def __init__(
        self, weights: Mapping[Color, int] | None = None, has_preview: bool = True
    ) -> None:
        self.weights: dict[Color, int] = validate_weights(weights or {"blue": 100})
        self.has_preview = has_preview
        self.endpoints: dict[Color, tuple[Endpoint, ...]] = {color: () for color in COLORS}
        self._ready = ReadyEndpoints()
        self.header_routes: dict[str, MemoryHeaderRoute] = {}
        self.preview: Color | None = None
        self.writes: list[dict[Color, int]] = []  # the weights after every single write
        self.prepare_count = 0
        self.closed = False
        self._failures: dict[str, SerinusError] = {}

    def fail_next(self, method: str, error: SerinusError | None = None) -> None:
        """Make the next call of `method` (e.g. "set_weights") raise `error` (a RouterError)."""
        self._failures[method] = error or RouterError(f"injected failure of {method}")

    def _maybe_fail(self, method: str) -> None:
        if (error := self._failures.pop(method, None)) is not None:
            raise error

    def destination(self, headers: Mapping[str, str] | None = None) -> Color | None:
        """The color a request goes to: a matching header route's, else the one at 100%.

        None when the weighted split sends traffic to both colors (no single answer).
        """
        for route in self.header_routes.values():
            if route.accepts(headers or {}):
                return route.color
        full = [color for color in COLORS if self.weights[color] == 100]
        return full[0] if full else None

    # --- the port ----------------------------------------------------------------------------

    async def prepare(self) -> None:
        self._maybe_fail("prepare")
        self.prepare_count += 1
        self.closed = False

    async def sync_endpoints(self, color: Color, endpoints: Sequence[Endpoint]) -> None:
        color = parse_color(color)
        self._maybe_fail("sync_endpoints")
        self.endpoints[color] = tuple(endpoints)
        self._ready.sync(color, endpoints)

    async def read_weights(self) -> dict[Color, int]:
        self._maybe_fail("read_weights")
        return dict(self.weights)

    async def set_weights(self, weights: Mapping[Color, int]) -> None:
        wanted = validate_weights(weights)
        self._maybe_fail("set_weights")
        self._ready.require(wanted, "the memory router")
        raising = [c for c in COLORS if wanted[c] > self.weights[c]]
        lowering = [c for c in COLORS if wanted[c] < self.weights[c]]
        for color in raising + lowering:
            self.weights[color] = wanted[color]
            self.writes.append(dict(self.weights))

    async def set_header_route(
        self, name: str, matches: Sequence[Mapping[str, Any]], color: Color
    ) -> None:
        color = parse_color(color)
        models = parse_header_matches(name, matches)
        self._maybe_fail("set_header_route")
        self.header_routes[name] = MemoryHeaderRoute(tuple(models), color)

    async def remove_header_route(self, name: str) -> None:
        self._maybe_fail("remove_header_route")
        self.header_routes.pop(name, None)

    async def set_preview(self, color: Color | None) -> None:
        if color is not None:
            color = parse_color(color)
        self._maybe_fail("set_preview")
        if self.has_preview:
            self.preview = color

    async def close(self) -> None:
        self.closed = True
