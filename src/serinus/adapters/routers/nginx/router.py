"""The NGINX Ingress canary router: a managed canary Ingress beside the user's stable one.

Each color is its own Service, `<rollout>-<color>` by default (`nginx.services` overrides it).
The canary Ingress's weight is one number, so a weight change is one write of it (or, when
the other color takes everything, the three ordered writes `edits.plan_weights` gives). A
header route is the canary Ingress's `canary-by-header`; NGINX allows one header and only
toward the canary Ingress's color. The router does not own its KubeClient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.errors import AlreadyExists
from serinus.adapters.kube.resources import INGRESSES, ObjectRef
from serinus.adapters.routers.inputs import parse_color, parse_header_matches, validate_weights
from serinus.adapters.routers.nginx import edits
from serinus.adapters.routers.nginx.edits import CanaryStep, HeaderRoute, Layout, StableStep
from serinus.adapters.routers.readiness import ReadyEndpoints
from serinus.core.errors import RouterError
from serinus.core.routing_spec import NginxRouting
from serinus.core.status import COLORS, Color, Endpoint, other_color

Object = dict[str, Any]


class NginxRouter:
    def __init__(
        self, client: KubeClient, *, rollout: str, namespace: str, spec: NginxRouting
    ) -> None:
        self._client = client
        self._stable = ObjectRef(INGRESSES, namespace, spec.stable_ingress)
        self._canary = ObjectRef(INGRESSES, namespace, spec.canary_ingress_name)
        self._layout = Layout(
            {c: spec.services.of(c, rollout) for c in COLORS},
            spec.canary_ingress_name,
            spec.annotation_prefix,
        )
        self._ready = ReadyEndpoints()

    @property
    def stable_ingress(self) -> ObjectRef:
        return self._stable

    @property
    def canary_ingress(self) -> ObjectRef:
        return self._canary

    async def prepare(self) -> None:
        edits.primary_color(await self._client.get(self._stable), self._layout)

    async def sync_endpoints(self, color: Color, endpoints: Sequence[Endpoint]) -> None:
        """Ingresses route to Services; serinus only keeps how many endpoints are ready, to
        refuse a weight on a color with none."""
        self._ready.sync(color, endpoints)

    async def read_weights(self) -> dict[Color, int]:
        stable = await self._client.get(self._stable)
        canary = await self._client.get_or_none(self._canary)
        return edits.read_weights(stable, canary, self._layout)

    async def set_weights(self, weights: Mapping[Color, int]) -> None:
        wanted = validate_weights(weights)
        self._ready.require(wanted, self._stable.describe())
        stable = await self._client.get(self._stable)
        for step in edits.plan_weights(stable, wanted, self._layout):
            if isinstance(step, StableStep):
                await self._switch_stable(step.color)
            else:
                await self._write_canary(step)
        found = await self.read_weights()
        if found != wanted:
            raise RouterError(
                f"{self._canary.describe()} reads {found} after serinus wrote {wanted}: "
                "another writer changed it"
            )

    async def _switch_stable(self, color: Color) -> None:
        def switch(stable: Object) -> Object:
            return edits.with_stable_color(stable, self._layout, color)

        await self._client.read_modify_write(self._stable, switch)

    async def set_header_route(
        self, name: str, matches: Sequence[Mapping[str, Any]], color: Color
    ) -> None:
        parsed = parse_header_matches(name, matches)
        route = edits.header_route(name, parsed, parse_color(color))
        current = await self._client.get_or_none(self._canary)
        other = edits.header_route_of(current)
        if other is not None and other.name != name:
            raise RouterError(
                f"header route {name!r}: {self._canary.describe()} already carries header "
                f"route {other.name!r}; NGINX allows one (remove it first)"
            )
        stable = await self._client.get(self._stable)
        canary_color = other_color(edits.primary_color(stable, self._layout))
        weight = edits.read_weights(stable, current, self._layout)[canary_color]
        await self._write_canary(CanaryStep(canary_color, weight), header=route)

    async def remove_header_route(self, name: str) -> None:
        current = await self._client.get_or_none(self._canary)
        route = edits.header_route_of(current)
        if current is None or route is None or route.name != name:
            return
        stable = await self._client.get(self._stable)
        color = edits.canary_color(current, self._layout) or other_color(
            edits.primary_color(stable, self._layout)
        )
        weight = edits.canary_weight(current, self._layout)
        await self._write_canary(CanaryStep(color, weight), header=None)

    async def set_preview(self, color: Color | None) -> None:
        """No preview route: test a color through its own Service instead."""
        if color is not None:
            parse_color(color)

    async def close(self) -> None:
        """The client belongs to the caller."""

    async def _write_canary(
        self, step: CanaryStep, header: HeaderRoute | Literal["keep"] | None = "keep"
    ) -> None:
        """Create or update the canary Ingress from the stable one's current spec."""
        keep = header
        stable = await self._client.get(self._stable)
        if await self._client.get_or_none(self._canary) is None:
            body = edits.canary_ingress(stable, None, self._layout, step.color, step.weight, keep)
            try:
                await self._client.create(INGRESSES, self._canary.namespace, body)
                return
            except AlreadyExists:
                pass  # created meanwhile: update it below

        def update(canary: Object) -> Object:
            return edits.canary_ingress(stable, canary, self._layout, step.color, step.weight, keep)

        await self._client.read_modify_write(self._canary, update)
