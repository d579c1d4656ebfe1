"""Spec models of the Kubernetes traffic routers (Istio, Gateway API, NGINX Ingress).

They are the values of `spec.trafficRouting.istio`, `.gatewayAPI` and `.nginx`. The names follow
Argo Rollouts' where the meaning is the same (`virtualService.name`, `routes`, `httpRoute`,
`stableIngress`). Where Argo speaks of stable/canary, serinus speaks of colors: blue and green
take turns being the stable version, so every per-version name (Service, subset) is keyed by
color, never by role. Each color has its own Service, `<rollout>-<color>` unless overridden.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from serinus.core.status import Color

# spec.py imports this module, so the shared base and patterns are restated here, not imported.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_KEY = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"  # noqa: E501


class SpecModel(BaseModel):
    """Same conventions as serinus.core.spec.SpecModel: camelCase, unknown fields rejected."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, alias_generator=to_camel, frozen=True
    )


class ColorNames(SpecModel):
    """A name per color (a Service, a host); unset colors use `<rollout>-<color>`."""

    blue: str | None = Field(default=None, min_length=1, max_length=253)
    green: str | None = Field(default=None, min_length=1, max_length=253)

    def of(self, color: Color, rollout: str) -> str:
        chosen = self.blue if color == "blue" else self.green
        return chosen if chosen is not None else f"{rollout}-{color}"


class IstioVirtualService(SpecModel):
    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    namespace: str | None = Field(
        default=None, pattern=DNS_LABEL, description="Default: the rollout's namespace."
    )
    routes: list[str] = Field(
        default_factory=list,
        description="Names of the HTTP routes serinus manages; empty: every HTTP route.",
    )


class IstioDestinationRule(SpecModel):
    """Subset-level routing: each color is a subset of the DestinationRule's host."""

    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    namespace: str | None = Field(default=None, pattern=DNS_LABEL)
    blue_subset_name: str = Field(default="blue", pattern=DNS_LABEL)
    green_subset_name: str = Field(default="green", pattern=DNS_LABEL)
    color_label: str = Field(
        default="serinus.io/color",
        pattern=LABEL_KEY,
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
    namespace: str | None = Field(default=None, pattern=DNS_LABEL)
    rules: list[str] = Field(
        default_factory=list,
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
    annotation_prefix: str = "nginx.ingress.kubernetes.io"
    services: ColorNames = Field(default_factory=ColorNames)

    @property
    def canary_ingress_name(self) -> str:
        return self.canary_ingress or f"{self.stable_ingress}-canary"
