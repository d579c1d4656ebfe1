"""Adapters chosen by the spec's kind strings: a new router or platform registers here, and
neither the core nor the engine changes. Imports are lazy so that, say, the local mode never
loads the Kubernetes client.

In the cluster (`allow_commands=False`) the factories that would execute something a Rollout
names refuse, whatever checked the spec before (see cluster_policy.py), and the metric
providers are the cluster's: no `command`, `job` instead, secrets from Kubernetes Secrets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serinus.app.analysis import ProviderRegistry
from serinus.core.errors import InvalidInput
from serinus.core.ports import Platform, SecretResolver, TrafficRouter
from serinus.core.spec import Rollout, steps_of

if TYPE_CHECKING:
    from serinus.adapters.egress import EgressGuard
    from serinus.app.gates import GateRunner


@dataclass(frozen=True)
class AdapterContext:
    """What adapters need besides the spec: where to keep local state, a Kubernetes client;
    in the cluster, whether author commands run, where secrets come from, the Rollout's uid."""

    rollout: Rollout
    state_dir: Path
    kube: Any = None
    allow_commands: bool = True  # False in the cluster unless --allow-author-commands
    secrets: SecretResolver | None = None  # None: the environment (local mode)
    rollout_uid: str | None = None  # owner of the Jobs the job provider creates
    egress: EgressGuard | None = None  # the cluster's: no link-local or metadata addresses


RouterFactory = Callable[[AdapterContext], TrafficRouter]
PlatformFactory = Callable[[AdapterContext], Platform]

ROUTERS: dict[str, RouterFactory] = {}
PLATFORMS: dict[str, PlatformFactory] = {}


def router_kind(kind: str) -> Callable[[RouterFactory], RouterFactory]:
    def register(factory: RouterFactory) -> RouterFactory:
        ROUTERS[kind] = factory
        return factory

    return register


def platform_kind(kind: str) -> Callable[[PlatformFactory], PlatformFactory]:
    def register(factory: PlatformFactory) -> PlatformFactory:
        PLATFORMS[kind] = factory
        return factory

    return register


def build_router(context: AdapterContext) -> TrafficRouter:
    kind = context.rollout.spec.traffic_routing.kind
    factory = ROUTERS.get(kind)
    if factory is None:
        raise InvalidInput([f"spec.trafficRouting.{kind}: no router for this kind here"], "rollout")
    return factory(context)


def build_platform(context: AdapterContext) -> Platform:
    kind = context.rollout.spec.workload.kind
    factory = PLATFORMS.get(kind)
    if factory is None:
        raise InvalidInput([f"spec.workload.{kind}: no platform for this kind here"], "rollout")
    return factory(context)


def build_providers(context: AdapterContext) -> ProviderRegistry:
    """The metric providers of one rollout, by kind."""
    from serinus.adapters.metrics.command import CommandProvider
    from serinus.adapters.metrics.prometheus import PrometheusProvider
    from serinus.adapters.metrics.web import WebProvider
    from serinus.app.notifications import EnvSecretResolver
    from serinus.app.secret_headers import SecretHeaders

    metadata = context.rollout.metadata
    resolver = context.secrets or EnvSecretResolver()
    providers: dict[str, Any] = {
        "prometheus": PrometheusProvider(egress=context.egress),
        "web": SecretHeaders(WebProvider(egress=context.egress), resolver, metadata.namespace),
    }
    if context.allow_commands:
        providers["command"] = CommandProvider()
    if context.kube is not None:
        from serinus.adapters.metrics.job import JobProvider

        providers["job"] = JobProvider(
            context.kube, metadata.namespace, metadata.name, owner_uid=context.rollout_uid
        )
    return providers


def build_gates(context: AdapterContext) -> GateRunner:
    """The webhook gates' caller: behind the egress guard, keys from the context's secrets;
    with a cluster, job gates' Jobs in the Rollout's namespace."""
    from serinus.adapters.gates.http import HttpGateCaller
    from serinus.app.gates import GateRunner
    from serinus.app.notifications import EnvSecretResolver

    caller = HttpGateCaller(egress=context.egress)
    jobs = None
    if context.kube is not None:  # job gates run as Jobs, by the job provider's code
        from serinus.adapters.metrics.job import JobProvider

        metadata = context.rollout.metadata
        jobs = JobProvider(
            context.kube, metadata.namespace, metadata.name, owner_uid=context.rollout_uid
        )
    return GateRunner(caller, context.secrets or EnvSecretResolver(), jobs)


def _refuse_execution(context: AdapterContext, field: str) -> None:
    if not context.allow_commands:
        raise InvalidInput(
            [f"{field}: the operator does not execute what a Rollout names (see cluster_policy)"],
            "rollout",
        )


@router_kind("haproxy")
def _haproxy(context: AdapterContext) -> TrafficRouter:
    from serinus.adapters.routers.haproxy.router import HaproxyRouter
    from serinus.app.cluster_policy import DEFAULT_HAPROXY

    rollout = context.rollout
    routing = rollout.spec.traffic_routing.haproxy
    assert routing is not None
    if routing.binary != DEFAULT_HAPROXY:
        _refuse_execution(context, "spec.trafficRouting.haproxy.binary")
    _refuse_execution(context, "spec.trafficRouting.haproxy")  # HAProxy in the operator's pod
    surge = rollout.spec.strategy.rolling_update
    # Spare slots let a restarted replica take a fresh slot instead of re-addressing a serving one.
    slots = 2 * (rollout.spec.workload.replicas + (surge.max_surge if surge else 0))
    header_routes = [
        step.set_header_route
        for step in steps_of(rollout.spec.strategy)
        if step.set_header_route is not None and step.set_header_route.match
    ]
    process = rollout.spec.workload.process
    return HaproxyRouter(
        rollout.name,
        routing,
        slots_per_color=slots,
        state_dir=context.state_dir / "haproxy",
        header_routes=header_routes,
        health_check_path=process.readiness.path if process else None,
    )


@platform_kind("process")
def _process(context: AdapterContext) -> Platform:
    from serinus.adapters.platforms.process import ProcessPlatform

    workload = context.rollout.spec.workload.process
    assert workload is not None
    _refuse_execution(context, "spec.workload.process")
    return ProcessPlatform(context.rollout.name, workload, context.state_dir / "replicas")


def _kube_client(context: AdapterContext) -> tuple[Any, bool]:
    """The context's Kubernetes client, or one of the platform's own (in-cluster/kubeconfig)."""
    if context.kube is not None:
        return context.kube, False
    from serinus.adapters.kube.client import KubeClient

    return KubeClient.auto(), True


@platform_kind("deployment")
def _deployment(context: AdapterContext) -> Platform:
    from serinus.adapters.platforms.deployment import DeploymentPlatform

    workload = context.rollout.spec.workload.deployment
    assert workload is not None
    client, owned = _kube_client(context)
    metadata = context.rollout.metadata
    return DeploymentPlatform(
        client, metadata.name, metadata.namespace, workload, owns_client=owned
    )


@platform_kind("helm")
def _helm(context: AdapterContext) -> Platform:
    from serinus.adapters.platforms.helm import HelmPlatform

    workload = context.rollout.spec.workload.helm
    assert workload is not None
    if workload.helm_binary is not None:
        _refuse_execution(context, "spec.workload.helm.helmBinary")
    client, owned = _kube_client(context)
    metadata = context.rollout.metadata
    return HelmPlatform(client, metadata.name, metadata.namespace, workload, owns_client=owned)


def _cluster_client(context: AdapterContext, kind: str) -> Any:
    """The caller's Kubernetes client: routers edit shared objects and never own a connection."""
    if context.kube is None:
        raise InvalidInput(
            [f"spec.trafficRouting.{kind}: needs a Kubernetes cluster (`serinus operator`)"],
            "rollout",
        )
    return context.kube


@router_kind("istio")
def _istio(context: AdapterContext) -> TrafficRouter:
    from serinus.adapters.routers.istio import IstioRouter

    routing = context.rollout.spec.traffic_routing.istio
    assert routing is not None
    metadata = context.rollout.metadata
    return IstioRouter(
        _cluster_client(context, "istio"),
        rollout=metadata.name,
        namespace=metadata.namespace,
        spec=routing,
    )


@router_kind("gatewayAPI")
def _gateway_api(context: AdapterContext) -> TrafficRouter:
    from serinus.adapters.routers.gatewayapi import GatewayApiRouter

    routing = context.rollout.spec.traffic_routing.gateway_api
    assert routing is not None
    metadata = context.rollout.metadata
    return GatewayApiRouter(
        _cluster_client(context, "gatewayAPI"),
        rollout=metadata.name,
        namespace=metadata.namespace,
        spec=routing,
    )


@router_kind("nginx")
def _nginx(context: AdapterContext) -> TrafficRouter:
    from serinus.adapters.routers.nginx import NginxRouter

    routing = context.rollout.spec.traffic_routing.nginx
    assert routing is not None
    metadata = context.rollout.metadata
    return NginxRouter(
        _cluster_client(context, "nginx"),
        rollout=metadata.name,
        namespace=metadata.namespace,
        spec=routing,
    )
