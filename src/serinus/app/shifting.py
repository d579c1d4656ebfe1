"""The seed's istio-traffic-shifter in the cluster: read a VirtualService, shift it, write it back.

The transformation is `serinus.core.virtualservice.shift_virtual_service` (pure, the same as
`serinus shift -f`); this module only adds the API server as its source and sink. The write goes
through `KubeClient.read_modify_write`: it carries the resourceVersion that was read, and on a
409 the object is read again and the shift recomputed from it, so another writer's change (to
another route, a header match, a timeout) is kept, never overwritten.

A dry run reads and computes but writes nothing. A shift that changes nothing (the target
already has its share) writes nothing either, so running the Job twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import VIRTUAL_SERVICES, ObjectRef
from serinus.core.errors import NotFound
from serinus.core.virtualservice import TrafficShift, shift_virtual_service


@dataclass(frozen=True)
class ShiftOutcome:
    """The VirtualService after the shift, and whether serinus wrote it."""

    ref: ObjectRef
    before: dict[str, Any]
    after: dict[str, Any]
    written: bool

    @property
    def changed(self) -> bool:
        return self.before.get("spec") != self.after.get("spec")


def virtual_service_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef(VIRTUAL_SERVICES, namespace, name)


async def shift_in_cluster(
    client: KubeClient, ref: ObjectRef, request: TrafficShift, *, dry_run: bool = False
) -> ShiftOutcome:
    """Shift the VirtualService `ref` as `request` says; write it unless `dry_run`.

    Raises NotFound naming the namespace and name when the VirtualService does not exist,
    UnknownRoute / InvalidShift / InvalidInput (from core) when the shift does not fit it,
    Forbidden when RBAC refuses a read or write, KubeError when the server cannot be reached.
    Nothing is written when any of these is raised.
    """
    source = f"VirtualService {ref.namespace}/{ref.name}"
    before = await _read(client, ref)
    if dry_run:
        after = shift_virtual_service(before, request, source)
        return ShiftOutcome(ref, before, after, written=False)

    seen: list[dict[str, Any]] = []

    def shifted(current: dict[str, Any]) -> dict[str, Any]:
        # Runs once per attempt, on the object as last read: a concurrent edit is part of it.
        seen.append(current)
        return shift_virtual_service(current, request, source)

    try:
        after = await client.read_modify_write(ref, shifted)
    except NotFound as exc:
        if type(exc) is not NotFound:  # UnknownRoute: the request, not the object
            raise
        raise _missing(ref, exc) from exc
    last_read = seen[-1] if seen else before
    # read_modify_write returns the object as read when the shift changes nothing.
    return ShiftOutcome(ref, last_read, after, written=_version(after) != _version(last_read))


async def _read(client: KubeClient, ref: ObjectRef) -> dict[str, Any]:
    try:
        return await client.get(ref)
    except NotFound as exc:
        raise _missing(ref, exc) from exc


def _missing(ref: ObjectRef, cause: NotFound) -> NotFound:
    return NotFound(
        f"VirtualService {ref.namespace}/{ref.name} not found: there is no "
        f'{ref.resource.qualified} named "{ref.name}" in namespace "{ref.namespace}" '
        f"(check --virtual-service and -n/--namespace; the server said: {cause})"
    )


def _version(obj: dict[str, Any]) -> object:
    return (obj.get("metadata") or {}).get("resourceVersion")
