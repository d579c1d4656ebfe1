"""The `deployment` platform: a Kubernetes Deployment (and optionally a Service) per color.

`ensure` writes the color's Deployment `<rollout>-<color>` (create, or update the fields serinus
owns with optimistic concurrency) and returns at once; `observe` reads readiness from the
Deployment status and endpoints from the pods (see kube_workloads); `tear_down` deletes the
Deployment and the Service (the garbage collector removes ReplicaSets and pods). Scaling a color
is a change of `spec.replicas`: blue's full size for blueGreenCanary, a share by weight for
canary, 0 to keep a color's version without pods; the engine decides the number.

A new platform on the same namespace adopts everything: all state is in the API server.
"""

from __future__ import annotations

from serinus.adapters.kube.client import KubeClient, Object
from serinus.adapters.kube.errors import AlreadyExists
from serinus.adapters.kube.resources import DEPLOYMENTS, PODS, SERVICES, ObjectRef, Resource
from serinus.adapters.platforms.arguments import check_ensure_arguments
from serinus.adapters.platforms.deployment import manifests
from serinus.adapters.platforms.kube_workloads import (
    COLOR_LABEL,
    ROLLOUT_LABEL,
    color_state,
    labels_of,
    selector,
)
from serinus.core.status import COLORS, Color, ColorState
from serinus.core.workload_spec import DeploymentWorkload


class DeploymentPlatform:
    def __init__(
        self,
        client: KubeClient,
        rollout: str,
        namespace: str,
        workload: DeploymentWorkload,
        *,
        owns_client: bool = False,
    ) -> None:
        self.client = client
        self.rollout = rollout
        self.namespace = namespace
        self.workload = workload
        self._owns_client = owns_client

    def _ref(self, resource: Resource, color: Color) -> ObjectRef:
        return ObjectRef(resource, self.namespace, manifests.color_name(self.rollout, color))

    async def ensure(self, color: Color, version: str, replicas: int) -> None:
        check_ensure_arguments(color, version, replicas, "deployment platform")
        wanted = manifests.deployment(self.rollout, self.workload, color, version, replicas)
        await self._apply(DEPLOYMENTS, color, wanted)
        service = manifests.service(self.rollout, self.workload, color)
        if service is not None:
            await self._apply(SERVICES, color, service)

    async def _apply(self, resource: Resource, color: Color, wanted: Object) -> None:
        ref = self._ref(resource, color)
        if await self.client.get_or_none(ref) is None:
            try:
                await self.client.create(resource, self.namespace, wanted)
                return
            except AlreadyExists:
                pass  # created meanwhile (another serinus replica): update it below
        await self.client.read_modify_write(ref, lambda current: manifests.merged(current, wanted))

    async def observe(self) -> dict[Color, ColorState]:
        mine = selector({ROLLOUT_LABEL: self.rollout})
        deployments = await self.client.list(DEPLOYMENTS, self.namespace, label_selector=mine)
        pods = await self.client.list(PODS, self.namespace, label_selector=mine)
        observed: dict[Color, ColorState] = {}
        for color in COLORS:
            name = manifests.color_name(self.rollout, color)
            owned = [d for d in deployments.items if d["metadata"]["name"] == name]
            if owned:
                color_pods = [p for p in pods.items if labels_of(p).get(COLOR_LABEL) == color]
                observed[color] = color_state(owned, color_pods)
        return observed

    async def tear_down(self, color: Color) -> None:
        if color not in COLORS:
            check_ensure_arguments(color, "-", 0, "deployment platform")
        await self.client.delete(self._ref(DEPLOYMENTS, color), missing_ok=True)
        await self.client.delete(self._ref(SERVICES, color), missing_ok=True)

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()
