"""The Gateway API traffic router: HTTPRoute backendRefs weights between the colors' Services.

Each color is its own Service, `<rollout>-<color>` by default (`gatewayAPI.services` overrides
it). Changes are computed by `edits` (pure) and written with read_modify_write, so concurrent
edits of other rules or fields survive. A weight change is one atomic write. The router does
not own its KubeClient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import HTTP_ROUTES, ObjectRef
from serinus.adapters.routers.gatewayapi import edits
from serinus.adapters.routers.gatewayapi.edits import Layout
from serinus.adapters.routers.inputs import parse_color, parse_header_matches, validate_weights
from serinus.adapters.routers.readiness import ReadyEndpoints
from serinus.core.errors import RouterError
from serinus.core.routing_spec import GatewayApiRouting
from serinus.core.status import COLORS, Color, Endpoint


class GatewayApiRouter:
    def __init__(
        self, client: KubeClient, *, rollout: str, namespace: str, spec: GatewayApiRouting
    ) -> None:
        self._client = client
        route_namespace = spec.namespace or namespace
        self._route = ObjectRef(HTTP_ROUTES, route_namespace, spec.http_route)
        self._layout = Layout(
            {c: spec.services.of(c, rollout) for c in COLORS}, tuple(spec.rules), route_namespace
        )
        self._ready = ReadyEndpoints()

    @property
    def http_route(self) -> ObjectRef:
        return self._route

    async def prepare(self) -> None:
        edits.read_weights(await self._client.get(self._route), self._layout)

    async def sync_endpoints(self, color: Color, endpoints: Sequence[Endpoint]) -> None:
        """The HTTPRoute routes to Services; serinus only keeps how many endpoints are ready,
        to refuse a weight on a color with none."""
        self._ready.sync(color, endpoints)

    async def read_weights(self) -> dict[Color, int]:
        return edits.read_weights(await self._client.get(self._route), self._layout)[0]

    async def set_weights(self, weights: Mapping[Color, int]) -> None:
        wanted = validate_weights(weights)
        self._ready.require(wanted, self._route.describe())
        await self._client.read_modify_write(
            self._route, lambda route: edits.with_weights(route, self._layout, wanted)
        )
        route = await self._client.get(self._route)
        for index, found in enumerate(edits.read_weights(route, self._layout)):
            if found != wanted:
                raise RouterError(
                    f"{self._route.describe()} managed rule #{index} reads {found} after "
                    f"serinus wrote {wanted}: another writer changed it"
                )

    async def set_header_route(
        self, name: str, matches: Sequence[Mapping[str, Any]], color: Color
    ) -> None:
        parsed = parse_header_matches(name, matches)
        chosen = parse_color(color)
        await self._client.read_modify_write(
            self._route,
            lambda route: edits.with_header_route(route, self._layout, name, parsed, chosen),
        )

    async def remove_header_route(self, name: str) -> None:
        await self._client.read_modify_write(
            self._route, lambda route: edits.without_header_route(route, name)
        )

    async def set_preview(self, color: Color | None) -> None:
        """No preview route: test a color through its own Service instead."""
        if color is not None:
            parse_color(color)

    async def close(self) -> None:
        """The client belongs to the caller."""
