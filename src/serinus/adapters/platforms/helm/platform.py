"""The `helm` platform: render the chart per color, label and apply it, tear it down by label.

As Spinnaker's Bake (Manifest) + Deploy (Manifest) stages: `helm template <release>-<color>`
renders the chart (values, values files, `--set`, and `spec.version` set at `versionValue`);
serinus labels every object with the rollout, color and version, scales the rendered
Deployments/StatefulSets to the replicas the engine asks for, and applies them through the
Kubernetes API (create, or update with optimistic concurrency). helm keeps no release in the
cluster: serinus owns the objects, and remembers which ones it applied in an inventory
ConfigMap `<release>-<color>-serinus`, written before the objects (so a crash mid-apply leaves
nothing untracked). A teardown deletes the inventory's objects and sweeps what still carries
the color's labels. A render error applies nothing.

Readiness: every rendered Deployment/StatefulSet of the color ready (the least ready counts).
Renders are cached per (color, version): scaling does not run helm again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from serinus.adapters.kube.client import KubeClient, Object
from serinus.adapters.kube.errors import AlreadyExists
from serinus.adapters.kube.resources import CONFIGMAPS, DEPLOYMENTS, PODS, ObjectRef, Resource
from serinus.adapters.platforms.arguments import check_ensure_arguments
from serinus.adapters.platforms.helm import manifests, rendering
from serinus.adapters.platforms.helm.manifests import Applied
from serinus.adapters.platforms.kube_workloads import (
    VERSION_ANNOTATION,
    color_labels,
    color_state,
    selector,
)
from serinus.core.status import COLORS, Color, ColorState
from serinus.core.workload_spec import HelmWorkload

STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")


class HelmPlatform:
    def __init__(
        self,
        client: KubeClient,
        rollout: str,
        namespace: str,
        workload: HelmWorkload,
        *,
        base_dir: Path | None = None,
        owns_client: bool = False,
    ) -> None:
        self.client = client
        self.rollout = rollout
        self.namespace = workload.namespace or namespace
        self.workload = workload
        self.release = workload.release or rollout
        self.base_dir = base_dir or Path.cwd()
        self._owns_client = owns_client
        self._renders: dict[tuple[Color, str], list[Object]] = {}

    def _inventory_ref(self, color: Color) -> ObjectRef:
        name = manifests.inventory_name(self.release, color)
        return ObjectRef(CONFIGMAPS, self.namespace, name)

    async def render(self, color: Color, version: str) -> list[Object]:
        """The chart's objects for a color, as helm renders them (cached)."""
        key = (color, version)
        if key not in self._renders:
            self._renders = {k: v for k, v in self._renders.items() if k[0] != color}
            self._renders[key] = await rendering.render(
                self.workload, f"{self.release}-{color}", self.namespace, version, self.base_dir
            )
        return self._renders[key]

    async def ensure(self, color: Color, version: str, replicas: int) -> None:
        check_ensure_arguments(color, version, replicas, "helm platform")
        rendered = await self.render(color, version)
        objects = manifests.prepared(rendered, self.rollout, color, version, replicas)
        applied = [manifests.applied(obj, self.namespace) for obj in objects]
        previous = await self._inventory(color)
        stale = [old for old in previous if old not in applied]
        # Track first: what is about to be applied is in the inventory before it exists.
        await self._write_inventory(color, version, [*applied, *stale])
        for obj, where in zip(objects, applied, strict=True):
            await self._apply(obj, where)
        for old in stale:
            await self._delete(old)
        if stale:
            await self._write_inventory(color, version, applied)

    async def _apply(self, obj: Object, where: Applied) -> None:
        ref = ObjectRef(where.resource, where.namespace, where.name)
        if await self.client.get_or_none(ref) is None:
            try:
                await self.client.create(where.resource, where.namespace, obj)
                return
            except AlreadyExists:
                pass
        await self.client.read_modify_write(ref, lambda current: manifests.merged(current, obj))

    async def _write_inventory(self, color: Color, version: str, objects: list[Applied]) -> None:
        ref = self._inventory_ref(color)
        body = manifests.inventory(ref.name, self.rollout, color, version, objects)
        await self._apply(body, Applied("v1", "ConfigMap", ref.name, self.namespace))

    async def _inventory(self, color: Color) -> list[Applied]:
        found = await self.client.get_or_none(self._inventory_ref(color))
        return [] if found is None else manifests.inventory_objects(found)

    async def _delete(self, target: Applied) -> None:
        ref = ObjectRef(target.resource, target.namespace, target.name)
        await self.client.delete(ref, missing_ok=True)

    async def observe(self) -> dict[Color, ColorState]:
        observed: dict[Color, ColorState] = {}
        for color in COLORS:
            configmap = await self.client.get_or_none(self._inventory_ref(color))
            if configmap is None:
                continue
            kinds = {o.kind for o in manifests.inventory_objects(configmap)}
            labels = selector({**color_labels(self.rollout, color)})
            workloads: list[dict[str, Any]] = []
            for resource in (DEPLOYMENTS, STATEFULSETS):
                if resource.kind in kinds:
                    listed = await self.client.list(resource, self.namespace, label_selector=labels)
                    workloads.extend(listed.items)
            workloads.sort(key=lambda w: str(w["metadata"]["name"]))
            pods = (await self.client.list(PODS, self.namespace, label_selector=labels)).items
            version = (configmap["metadata"].get("annotations") or {}).get(VERSION_ANNOTATION)
            state = color_state(workloads, pods) if workloads else ColorState()
            observed[color] = state.model_copy(update={"version": version})
        return observed

    async def tear_down(self, color: Color) -> None:
        if color not in COLORS:
            check_ensure_arguments(color, "-", 0, "helm platform")
        tracked = await self._inventory(color)
        for target in tracked:
            await self._delete(target)
        # Sweep by label: objects applied by a serinus that crashed before writing the inventory.
        labels = selector(color_labels(self.rollout, color))
        resources = {t.resource for t in tracked} | {DEPLOYMENTS}
        for resource in sorted(resources, key=lambda r: r.qualified):
            listed = await self.client.list(resource, self.namespace, label_selector=labels)
            for item in listed.items:
                name = str(item["metadata"]["name"])
                await self.client.delete(ObjectRef(resource, self.namespace, name), missing_ok=True)
        await self.client.delete(self._inventory_ref(color), missing_ok=True)
        self._renders = {k: v for k, v in self._renders.items() if k[0] != color}

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()
