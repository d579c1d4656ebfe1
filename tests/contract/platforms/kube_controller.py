"""A stand-in for the Deployment controller and the kubelet, for tests against the API stand-in.

The stand-in stores objects but runs nothing, so no pod would ever appear and no Deployment
status would change. This controller plays both, honestly simplified: every `period` it lists
the Deployments of a namespace and, for each one,
- deletes pods whose template hash (here: the `serinus.io/version` label and the template's
  container images) differs from the Deployment's template, and the newest pods beyond
  `spec.replicas`;
- creates the missing pods `<deployment>-<n>` with the template's labels, a pod IP and (unless
  `crashing`) a Ready condition; with `crashing` their container waits in CrashLoopBackOff;
- writes the Deployment status (observedGeneration, replicas, updated/ready/available counts,
  and ProgressDeadlineExceeded when crashing) through the status subresource.
There is no ReplicaSet, no rolling surge, no readiness delay: what it proves is that serinus
reads and writes the objects correctly, not how Kubernetes schedules pods.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
from collections.abc import AsyncIterator
from typing import Any

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.errors import StaleWrite
from serinus.adapters.kube.resources import DEPLOYMENTS, PODS, ObjectRef
from serinus.core.errors import NotFound

VERSION_LABEL = "serinus.io/version"


class DeploymentController:
    def __init__(
        self, client: KubeClient, namespace: str, *, crashing: bool = False, period: float = 0.02
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.crashing = crashing
        self.period = period
        self._names = itertools.count()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[DeploymentController]:
        task = asyncio.create_task(self._loop())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        # With a watch cache on the client (the scale benchmarks: thousands of Deployments),
        # only the Deployments someone else changed (or whose pods changed) are looked at, as
        # the real controller's informers do, instead of all of them every period. The first
        # pass looks at every one; then every `period` at most, the changed ones.
        cache = self.client.cache
        if cache is None:
            while True:
                with contextlib.suppress(NotFound, StaleWrite):
                    await self.reconcile()
                await asyncio.sleep(self.period)
        dirty: set[str] = set()
        changed = asyncio.Event()

        def note(resource: Any, kind: str, obj: dict[str, Any]) -> None:
            metadata = obj.get("metadata") or {}
            name = metadata.get("name") if resource == DEPLOYMENTS else None
            owner = (metadata.get("annotations") or {}).get("owner")
            if name or owner:
                dirty.add(str(name or owner))
                changed.set()

        cache.subscribe(note)
        with contextlib.suppress(NotFound, StaleWrite):
            await self.reconcile()
        while True:
            await changed.wait()
            changed.clear()
            names, dirty = sorted(dirty), set()
            for name in names:
                with contextlib.suppress(NotFound, StaleWrite):
                    await self._reconcile_one(name)
            await asyncio.sleep(self.period)  # batch the changes of the next period

    async def _reconcile_one(self, name: str) -> None:
        deployment = await self.client.get_or_none(ObjectRef(DEPLOYMENTS, self.namespace, name))
        if deployment is None:
            return
        # Its pods carry its selector's labels (the cache's label index answers that).
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        pods = await self.client.list(PODS, self.namespace, label_selector=selector or None)
        mine = [p for p in pods.items if p["metadata"].get("annotations", {}).get("owner") == name]
        await self._reconcile(deployment, mine)

    async def reconcile(self) -> None:
        deployments = (await self.client.list(DEPLOYMENTS, self.namespace)).items
        pods = (await self.client.list(PODS, self.namespace)).items
        owned: dict[str, list[dict[str, Any]]] = {}
        for pod in pods:
            owner = pod["metadata"].get("annotations", {}).get("owner")
            owned.setdefault(str(owner), []).append(pod)
        for deployment in deployments:
            await self._reconcile(deployment, owned.get(deployment["metadata"]["name"], []))

    async def _reconcile(self, deployment: dict[str, Any], mine: list[dict[str, Any]]) -> None:
        """`mine`: the pods this Deployment owns."""
        name = deployment["metadata"]["name"]
        spec = deployment["spec"]
        template = spec["template"]
        stamp = _stamp(template)
        mine.sort(key=lambda p: p["metadata"]["name"])
        keep = [p for p in mine if p["metadata"]["annotations"].get("stamp") == stamp]
        keep = keep[: int(spec.get("replicas", 1))]
        for pod in mine:
            if pod not in keep:
                await self.client.delete(
                    ObjectRef(PODS, self.namespace, pod["metadata"]["name"]), missing_ok=True
                )
        while len(keep) < int(spec.get("replicas", 1)):
            keep.append(await self._start_pod(name, template, stamp))
        ready = 0 if self.crashing else len(keep)
        status: dict[str, Any] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": len(keep),
            "updatedReplicas": len(keep),
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        if self.crashing:
            status["conditions"] = [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet "{name}-1" has timed out progressing.',
                }
            ]
        if deployment.get("status") != status:
            body = {**deployment, "status": status}
            await self.client.replace(
                ObjectRef(DEPLOYMENTS, self.namespace, name), body, subresource="status"
            )

    async def _start_pod(self, owner: str, template: dict[str, Any], stamp: str) -> dict[str, Any]:
        number = next(self._names)
        metadata = copy.deepcopy(template.get("metadata") or {})
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{owner}-{number:05d}",
                "labels": metadata.get("labels") or {},
                "annotations": {"owner": owner, "stamp": stamp},
            },
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        created = await self.client.create(PODS, self.namespace, pod)
        container = pod["spec"]["containers"][0]["name"]
        if self.crashing:
            status: dict[str, Any] = {
                "phase": "Running",
                "podIP": f"10.1.{number // 250}.{number % 250 + 1}",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {
                        "name": container,
                        "ready": False,
                        "state": {
                            "waiting": {
                                "reason": "CrashLoopBackOff",
                                "message": "back-off 10s restarting failed container",
                            }
                        },
                    }
                ],
            }
        else:
            status = {
                "phase": "Running",
                "podIP": f"10.1.{number // 250}.{number % 250 + 1}",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": container, "ready": True, "state": {"running": {}}}],
            }
        return await self.client.replace(
            ObjectRef(PODS, self.namespace, created["metadata"]["name"]),
            {**created, "status": status},
            subresource="status",
        )


def _stamp(template: dict[str, Any]) -> str:
    labels = (template.get("metadata") or {}).get("labels") or {}
    images = [c.get("image", "") for c in (template.get("spec") or {}).get("containers") or []]
    return "|".join([labels.get(VERSION_LABEL, ""), *images])
