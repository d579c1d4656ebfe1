"""The Kubernetes objects a plan's actions write, for a deployment workload, with their diffs.

The objects come from the deployment platform's own pure manifests (`manifests.deployment`,
`manifests.service`), so they are what `DeploymentPlatform.ensure` sends. The objects that exist
before the plan are the ones the recorded status says run (its replicas per color); each later
write is shown as a create, an update with the fields it changes, or a delete. They are not read
from or checked against an API server (no server-side dry-run yet).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

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

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "verb": self.verb,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }
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
    spec = obj["spec"]
    if obj["kind"] == "Deployment":
        containers = spec["template"].get("spec", {}).get("containers", [])
        images = [f"image {c.get('name')}: {c.get('image')}" for c in containers]
        return (f"replicas: {spec['replicas']}", *images)
    ports = ", ".join(f"{p['port']}->{p['targetPort']}" for p in spec.get("ports", []))
    return (f"{spec.get('type')} ports {ports}",)


def _diff(before: Any, after: Any, path: str) -> Iterator[str]:
    """`path: old -> new` for every leaf that differs (lists compare whole)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after)):
            yield from _diff(before.get(key), after.get(key), f"{path}.{key}" if path else key)
    elif before != after:
        yield f"{path}: {_short(before)} -> {_short(after)}"


def _short(value: Any) -> str:
    return "(none)" if value is None else str(value)
