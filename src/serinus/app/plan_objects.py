"""The Kubernetes objects a plan's actions write, with their diffs.

Two sources, one shape (`ObjectChange`):

- with a cluster (`from_write`): the writes the real adapters sent as server-side dry-runs
  (`app/plan_cluster.py`), each as the API server answered it, diffed against the object before
  it (the live one or the plan's previous write);
- without one, for a deployment workload (`object_changes`): the deployment platform's own pure
  manifests (`manifests.deployment`, `manifests.service`), so what `DeploymentPlatform.ensure`
  sends; the objects that exist before the plan are the ones the recorded status says run.

A write is shown as a create (with what a person checks: replicas, images, ports), an update
with each field it changes (`spec.http[0].route[1].weight: 0 -> 10`), or a delete.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from serinus.adapters.kube.dry_run import SERVER_FIELDS, DryRunWrite
from serinus.adapters.platforms.deployment import manifests
from serinus.app.planning import PlannedAction
from serinus.core.spec import Rollout
from serinus.core.status import COLORS, Color, RolloutStatus
from serinus.core.workload_spec import DeploymentWorkload

Verb = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class ObjectChange:
    verb: Verb
    kind: str
    namespace: str
    name: str
    changes: tuple[str, ...] = ()  # `spec.replicas: 1 -> 3` for an update
    body: Mapping[str, Any] | None = None  # the object as written (create, update)
    checked: bool = False  # accepted by the API server's dry-run
    error: str | None = None  # the API server refused the write

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "verb": self.verb,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "checked": self.checked,
        }
        if self.error is not None:
            data["error"] = self.error
        if self.changes:
            data["changes"] = list(self.changes)
        if self.body is not None:
            data["body"] = dict(self.body)
        return data


def _objects(
    rollout: Rollout, workload: DeploymentWorkload, color: Color, version: str, replicas: int
) -> list[manifests.Object]:
    made = [manifests.deployment(rollout.name, workload, color, version, replicas)]
    service = manifests.service(rollout.name, workload, color)
    return made if service is None else [*made, service]


def object_changes(
    rollout: Rollout, start: RolloutStatus | None, actions: Sequence[PlannedAction]
) -> list[ObjectChange] | None:
    """The writes of `actions` as objects; None when the workload is not a Deployment."""
    workload = rollout.spec.workload.deployment
    if workload is None:
        return None
    namespace = rollout.metadata.namespace
    known: dict[tuple[str, str], manifests.Object] = {}
    for color in COLORS:
        version = start.version_of(color) if start is not None else None
        replicas = start.replicas.get(color, 0) if start is not None else 0
        if version is not None and replicas > 0:
            for obj in _objects(rollout, workload, color, version, replicas):
                known[_key(obj)] = obj
    changes: list[ObjectChange] = []
    for action in actions:
        fields = action.fields
        if action.kind == "EnsureVersion":
            wanted = _objects(
                rollout, workload, fields["color"], fields["version"], fields["replicas"]
            )
            for obj in wanted:
                change = _written(known.get(_key(obj)), obj, namespace)
                if change is not None:
                    changes.append(change)
                known[_key(obj)] = obj
        elif action.kind == "TearDown":
            name = manifests.color_name(rollout.name, fields["color"])
            for key in [key for key in known if key[1] == name]:
                changes.append(ObjectChange("delete", key[0], namespace, name))
                del known[key]
    return changes


def from_write(write: DryRunWrite) -> ObjectChange:
    """A dry-run write as the plan shows it: diffed without the fields the server manages."""
    before = None if write.before is None else comparable(write.before)
    after = None if write.after is None else comparable(write.after)
    checked = write.checked and write.error is None
    where = (write.kind, write.namespace, write.name)
    if write.verb == "delete" or after is None:  # a delete, or a write the server refused
        verb: Verb = (
            "delete" if write.verb == "delete" else "create" if before is None else "update"
        )
        return ObjectChange(verb, *where, checked=checked, error=write.error)
    if before is None or write.verb == "create":
        return ObjectChange("create", *where, _summary(after), after, checked, write.error)
    changed = tuple(_diff(before, after, ""))
    return ObjectChange("update", *where, changed, after, checked, write.error)


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """`obj` without its status and the metadata the server sets on every write."""
    copied = {key: value for key, value in obj.items() if key != "status"}
    metadata = dict(copied.get("metadata") or {})
    for name in SERVER_FIELDS:
        metadata.pop(name, None)
    copied["metadata"] = metadata
    return copied


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    return str(obj["kind"]), str(obj["metadata"]["name"])


def _written(
    current: manifests.Object | None, wanted: manifests.Object, namespace: str
) -> ObjectChange | None:
    kind, name = _key(wanted)
    if current is None:
        return ObjectChange("create", kind, namespace, name, _summary(wanted), wanted)
    changed = tuple(_diff(current, wanted, ""))
    if not changed:
        return None
    return ObjectChange("update", kind, namespace, name, changed, wanted)


def _summary(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """What a person checks in a new object: replicas and images, or the ports."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Deployment":
        containers = spec["template"].get("spec", {}).get("containers", [])
        images = [f"image {c.get('name')}: {c.get('image')}" for c in containers]
        return (f"replicas: {spec.get('replicas')}", *images)
    if obj.get("kind") == "Service":
        ports = ", ".join(f"{p['port']}->{p['targetPort']}" for p in spec.get("ports", []))
        return (f"{spec.get('type')} ports {ports}",)
    return ()


def _diff(before: Any, after: Any, path: str) -> Iterator[str]:
    """`path: old -> new` for every leaf that differs; lists of one length compare by index
    (a route's weight), others whole."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after)):
            yield from _diff(before.get(key), after.get(key), f"{path}.{key}" if path else key)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from _diff(old, new, f"{path}[{index}]")
    elif before != after:
        yield f"{path}: {_short(before)} -> {_short(after)}"


def _short(value: Any) -> str:
    return "(none)" if value is None else str(value)
