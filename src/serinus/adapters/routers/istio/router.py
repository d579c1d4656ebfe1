"""The Istio traffic router: VirtualService weights, host-level or subset-level.

Host-level (no `destinationRule` in the spec): each color is a host, by default the color's
Service `<rollout>-<color>` (created by the Deployment platform), overridable per color with
`istio.hosts`. Subset-level: each color is a subset of the DestinationRule's host (`blue` and
`green` by default) selecting pods by the color label.

Every change is computed by `edits` (pure) and written with the client's read_modify_write:
a concurrent edit of another route or field of the same VirtualService makes serinus re-read
and recompute, never overwrite it. Ordering keeps every request routable: a subset is added to
the DestinationRule before any route refers to it, and references are removed before a subset
is (`remove_color`). A weight change is one atomic write of the VirtualService.

The router does not own the KubeClient it is given: `close()` leaves it open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import DESTINATION_RULES, VIRTUAL_SERVICES, ObjectRef
from serinus.adapters.routers.inputs import parse_color, parse_header_matches, validate_weights
from serinus.adapters.routers.istio import edits
from serinus.adapters.routers.istio.edits import Layout, Target
from serinus.adapters.routers.readiness import ReadyEndpoints
from serinus.core.errors import InvalidInput, RouterError
from serinus.core.routing_spec import IstioRouting
from serinus.core.status import COLORS, Color, Endpoint


class IstioRouter:
    def __init__(
        self, client: KubeClient, *, rollout: str, namespace: str, spec: IstioRouting
    ) -> None:
        self._client = client
        self._rollout = rollout
        self._namespace = namespace
        self._spec = spec
        vs = spec.virtual_service
        self._vs = ObjectRef(VIRTUAL_SERVICES, vs.namespace or namespace, vs.name)
        dr = spec.destination_rule
        self._dr = ObjectRef(DESTINATION_RULES, dr.namespace or namespace, dr.name) if dr else None
        self._ready = ReadyEndpoints()

    @property
    def virtual_service(self) -> ObjectRef:
        return self._vs

    @property
    def destination_rule(self) -> ObjectRef | None:
        return self._dr

    async def prepare(self) -> None:
        """Check that the VirtualService, its routes and the DestinationRule can be managed."""
        vs = await self._client.get(self._vs)
        layout = await self._layout()
        edits.read_weights(vs, layout)
        spec = self._spec.destination_rule
        if self._dr is not None and spec is not None and not spec.manage_subsets:
            dr = await self._client.get(self._dr)
            edits.require_subsets(dr, [self._subset(c) for c in COLORS])

    async def sync_endpoints(self, color: Color, endpoints: Sequence[Endpoint]) -> None:
        """Istio routes to Services and subsets, which track their pods; serinus only keeps
        how many are ready, to refuse a weight on a color with none."""
        self._ready.sync(color, endpoints)

    async def read_weights(self) -> dict[Color, int]:
        vs = await self._client.get(self._vs)
        return edits.read_weights(vs, await self._layout())[0]

    async def set_weights(self, weights: Mapping[Color, int]) -> None:
        wanted = validate_weights(weights)
        self._ready.require(wanted, self._vs.describe())
        layout = await self._layout()
        await self._ensure_subsets([c for c in COLORS if wanted[c] > 0])
        await self._client.read_modify_write(
            self._vs, lambda vs: edits.with_weights(vs, layout, wanted)
        )
        await self._verify(wanted, layout)

    async def set_header_route(
        self, name: str, matches: Sequence[Mapping[str, Any]], color: Color
    ) -> None:
        parsed = parse_header_matches(name, matches)
        chosen = parse_color(color)
        layout = await self._layout()
        await self._ensure_subsets([chosen])
        await self._client.read_modify_write(
            self._vs, lambda vs: edits.with_header_route(vs, layout, name, parsed, chosen)
        )

    async def remove_header_route(self, name: str) -> None:
        await self._client.read_modify_write(
            self._vs, lambda vs: edits.without_header_route(vs, name)
        )

    async def set_mirror(self, color: Color | None, percentage: float = 100.0) -> None:
        """Mirror `percentage`% of the managed routes' requests to `color` (None: stop)."""
        chosen = parse_color(color) if color is not None else None
        if not 0 <= percentage <= 100:
            raise InvalidInput([f"percentage: must be between 0 and 100, got {percentage}"])
        layout = await self._layout()
        if chosen is not None:
            await self._ensure_subsets([chosen])
        await self._client.read_modify_write(
            self._vs, lambda vs: edits.with_mirror(vs, layout, chosen, percentage)
        )

    async def remove_color(self, color: Color) -> None:
        """Drop every reference to a color without traffic, then (if managed) its subset."""
        chosen = parse_color(color)
        layout = await self._layout()
        written = await self._client.read_modify_write(
            self._vs, lambda vs: edits.without_color(vs, layout, chosen)
        )
        spec = self._spec.destination_rule
        if self._dr is None or spec is None or not spec.manage_subsets:
            return
        host = layout.targets[chosen].host
        if spec.subset(chosen) in edits.referenced_subsets(written, host, self._vs.namespace or ""):
            return  # an unmanaged route still refers to it: keep the subset
        await self._client.read_modify_write(
            self._dr, lambda dr: edits.without_subset(dr, spec.subset(chosen))
        )

    async def set_preview(self, color: Color | None) -> None:
        """No preview route with Istio: test a color through its own Service instead."""
        if color is not None:
            parse_color(color)

    async def close(self) -> None:
        """The client belongs to the caller."""

    # --- internals ----------------------------------------------------------------------------

    def _subset(self, color: Color) -> str:
        assert self._spec.destination_rule is not None
        return self._spec.destination_rule.subset(color)

    async def _layout(self) -> Layout:
        namespace = self._vs.namespace or self._namespace
        routes = tuple(self._spec.virtual_service.routes)
        if self._dr is None:
            targets = {c: Target(self._spec.hosts.of(c, self._rollout)) for c in COLORS}
            return Layout(targets, routes, namespace)
        host = edits.dr_host(await self._client.get(self._dr))
        return Layout({c: Target(host, self._subset(c)) for c in COLORS}, routes, namespace)

    async def _ensure_subsets(self, colors: Sequence[Color]) -> None:
        """Subset-level: every color about to be referenced has its subset first."""
        spec = self._spec.destination_rule
        if self._dr is None or spec is None or not colors:
            return
        if not spec.manage_subsets:
            edits.require_subsets(
                await self._client.get(self._dr), [spec.subset(c) for c in colors]
            )
            return

        def add(dr: dict[str, Any]) -> dict[str, Any] | None:
            result: dict[str, Any] | None = None
            for color in colors:
                result = (
                    edits.with_subset(result or dr, spec.subset(color), spec.color_label, color)
                    or result
                )
            return result

        await self._client.read_modify_write(self._dr, add)

    async def _verify(self, wanted: Mapping[Color, int], layout: Layout) -> None:
        vs = await self._client.get(self._vs)
        for index, found in enumerate(edits.read_weights(vs, layout)):
            if found != dict(wanted):
                raise RouterError(
                    f"VirtualService {self._vs.describe()} managed route #{index} reads "
                    f"{found} after serinus wrote {dict(wanted)}: another writer changed it"
                )
