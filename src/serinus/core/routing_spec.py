"""Spec models of the Kubernetes traffic routers (Istio, Gateway API, NGINX Ingress).

They are the values of `spec.trafficRouting.istio`, `.gatewayAPI` and `.nginx`. The names follow
Argo Rollouts' where the meaning is the same (`virtualService.name`, `routes`, `httpRoute`,
`stableIngress`). Where Argo speaks of stable/canary, serinus speaks of colors: blue and green
take turns being the stable version, so every per-version name (Service, subset) is keyed by
color, never by role. Each color has its own Service, `<rollout>-<color>` unless overridden.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from serinus.core.spec_base import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    LABEL_KEY,
    MAX_LIST,
    MAX_NAME,
    SINGLE_LINE,
    SpecModel,
)
from serinus.core.status import Color

RouteName = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=SINGLE_LINE)]
# An annotation prefix (a DNS subdomain) as in `nginx.ingress.kubernetes.io`.
ANNOTATION_PREFIX = DNS_SUBDOMAIN


class ColorNames(SpecModel):
    """A name per color (a Service, a host); unset colors use `<rollout>-<color>`."""

    blue: str | None = Field(default=None, pattern=DNS_SUBDOMAIN, max_length=MAX_NAME)
    green: str | None = Field(default=None, pattern=DNS_SUBDOMAIN, max_length=MAX_NAME)

    def of(self, color: Color, rollout: str) -> str:
        chosen = self.blue if color == "blue" else self.green
        return chosen if chosen is not None else f"{rollout}-{color}"


class IstioVirtualService(SpecModel):
    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    namespace: str | None = Field(
        default=None,
        pattern=DNS_LABEL,
        max_length=63,
        description="Default: the rollout's namespace.",
    )
    routes: list[RouteName] = Field(
        default_factory=list,
        max_length=MAX_LIST,
        description="Names of the HTTP routes serinus manages; empty: every HTTP route.",
    )


class IstioDestinationRule(SpecModel):
    """Subset-level routing: each color is a subset of the DestinationRule's host."""

    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    namespace: str | None = Field(default=None, pattern=DNS_LABEL, max_length=63)
    blue_subset_name: str = Field(default="blue", pattern=DNS_LABEL, max_length=63)
    green_subset_name: str = Field(default="green", pattern=DNS_LABEL, max_length=63)
    color_label: str = Field(
        default="serinus.io/color",
        pattern=LABEL_KEY,
        max_length=317,
        description="The pod label a managed subset selects by (its value is the color).",
    )
    manage_subsets: bool = Field(
        default=True,
        description=(
            "Add a missing color subset before a route refers to it. When false the "
            "DestinationRule must already define both subsets."
        ),
    )

    def subset(self, color: Color) -> str:
        return self.blue_subset_name if color == "blue" else self.green_subset_name


class IstioRouting(SpecModel):
    """Istio VirtualService weights; host-level unless `destinationRule` is set."""

    virtual_service: IstioVirtualService
    destination_rule: IstioDestinationRule | None = None
    hosts: ColorNames = Field(
        default_factory=ColorNames,
        description="Host-level routing: the destination host of each color.",
    )


class GatewayApiRouting(SpecModel):
    """Gateway API HTTPRoute `backendRefs` weights."""

    http_route: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    namespace: str | None = Field(default=None, pattern=DNS_LABEL, max_length=63)
    rules: list[RouteName] = Field(
        default_factory=list,
        max_length=MAX_LIST,
        description="Names of the rules serinus manages; empty: every rule.",
    )
    services: ColorNames = Field(default_factory=ColorNames)


class NginxRouting(SpecModel):
    """NGINX Ingress canary: a copy of the stable Ingress sends a share of traffic to a color."""

    stable_ingress: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    canary_ingress: str | None = Field(
        default=None,
        pattern=DNS_SUBDOMAIN,
        max_length=253,
        description="Name of the managed canary Ingress; default `<stableIngress>-canary`.",
    )
    annotation_prefix: str = Field(
        default="nginx.ingress.kubernetes.io", pattern=ANNOTATION_PREFIX, max_length=MAX_NAME
    )
    services: ColorNames = Field(default_factory=ColorNames)

    @property
    def canary_ingress_name(self) -> str:
        return self.canary_ingress or f"{self.stable_ingress}-canary"
