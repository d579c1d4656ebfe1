"""What serinus does to a chart's rendered objects before applying them (pure functions).

- every object gets the labels `serinus.io/rollout`, `serinus.io/color`, `serinus.io/version`
  (and the version annotation), so a color can be found and torn down by label;
- Deployments and StatefulSets: the same labels on their pod templates, rollout and color added
  to their selectors (both colors render the same chart, so without this blue's Deployment
  would also select green's pods), and `spec.replicas` set to the count the engine asks for;
- Services that select pods: rollout and color added to the selector, so each color's Services
  reach only that color's pods (host-level routing);
- an inventory: the list of applied objects, kept in a ConfigMap `<release>-<color>-serinus`,
  so a teardown (or a new version that renders fewer objects) deletes exactly what was applied.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serinus.adapters.kube.resources import Resource
from serinus.adapters.platforms.kube_workloads import (
    MANAGED_BY,
    VERSION_ANNOTATION,
    color_labels,
    version_labels,
)
from serinus.core.status import Color

Object = dict[str, Any]

SCALED_KINDS = frozenset({"Deployment", "StatefulSet"})
INVENTORY_KEY = "objects"

# Plurals of the kinds charts commonly render; any other kind uses `lowercase(kind) + s`.
_PLURALS = {
    "Ingress": "ingresses",
    "NetworkPolicy": "networkpolicies",
    "PodSecurityPolicy": "podsecuritypolicies",
    "Endpoints": "endpoints",
    "PriorityClass": "priorityclasses",
    "StorageClass": "storageclasses",
    "IngressClass": "ingressclasses",
}
_CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "StorageClass",
        "IngressClass",
        "PersistentVolume",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    }
)


def resource_of(obj: Mapping[str, Any]) -> Resource:
    api_version = str(obj["apiVersion"])
    group, _, version = api_version.rpartition("/")
    kind = str(obj["kind"])
    plural = _PLURALS.get(kind, kind.lower() + "s")
    return Resource(group, version, plural, kind, namespaced=kind not in _CLUSTER_SCOPED)


@dataclass(frozen=True)
class Applied:
    """One object of the inventory."""

    api_version: str
    kind: str
    name: str
    namespace: str | None

    @property
    def resource(self) -> Resource:
        return resource_of({"apiVersion": self.api_version, "kind": self.kind})

    def to_json(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
        }


def applied(obj: Mapping[str, Any], namespace: str) -> Applied:
    resource = resource_of(obj)
    metadata = obj.get("metadata") or {}
    return Applied(
        str(obj["apiVersion"]),
        str(obj["kind"]),
        str(metadata["name"]),
        str(metadata.get("namespace") or namespace) if resource.namespaced else None,
    )


def prepared(
    objects: Sequence[Mapping[str, Any]],
    rollout: str,
    color: Color,
    version: str,
    replicas: int,
) -> list[Object]:
    """The rendered objects labelled for a color and scaled to `replicas` (copies)."""
    labels = {**MANAGED_BY, **version_labels(rollout, color, version)}
    result = []
    for original in objects:
        obj = copy.deepcopy(dict(original))
        metadata = obj.setdefault("metadata", {})
        metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            VERSION_ANNOTATION: version,
        }
        spec = obj.get("spec")
        if obj.get("kind") in SCALED_KINDS and isinstance(spec, dict):
            spec["replicas"] = replicas
            selector = spec.setdefault("selector", {})
            selector["matchLabels"] = {
                **(selector.get("matchLabels") or {}),
                **color_labels(rollout, color),
            }
            template = spec.setdefault("template", {})
            pod_metadata = template.setdefault("metadata", {})
            pod_metadata["labels"] = {**(pod_metadata.get("labels") or {}), **labels}
            pod_metadata["annotations"] = {
                **(pod_metadata.get("annotations") or {}),
                VERSION_ANNOTATION: version,
            }
        if obj.get("kind") == "Service" and isinstance(spec, dict) and spec.get("selector"):
            spec["selector"] = {**spec["selector"], **color_labels(rollout, color)}
        result.append(obj)
    return result


def merged(current: Object, desired: Mapping[str, Any]) -> Object | None:
    """`current` updated to the rendered `desired`, or None when nothing changes.

    Rendered top-level fields replace the stored ones; labels and annotations are merged (the
    server and other tools add theirs); a Service keeps the clusterIP the server assigned.
    """
    updated = copy.deepcopy(current)
    metadata = updated.setdefault("metadata", {})
    wanted = desired.get("metadata") or {}
    for key in ("labels", "annotations"):
        metadata[key] = {**(metadata.get(key) or {}), **(wanted.get(key) or {})}
    for key, value in desired.items():
        if key not in ("metadata", "status", "apiVersion", "kind"):
            updated[key] = copy.deepcopy(value)
    if desired.get("kind") == "Service":
        old_spec = current.get("spec") or {}
        for kept in ("clusterIP", "clusterIPs"):
            if kept in old_spec:
                updated.setdefault("spec", {})[kept] = old_spec[kept]
    return None if updated == current else updated


def inventory_name(release: str, color: Color) -> str:
    return f"{release}-{color}-serinus"


def inventory(
    name: str, rollout: str, color: Color, version: str, objects: Sequence[Applied]
) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": {**MANAGED_BY, **version_labels(rollout, color, version)},
            "annotations": {VERSION_ANNOTATION: version},
        },
        "data": {INVENTORY_KEY: json.dumps([o.to_json() for o in objects])},
    }


def inventory_objects(configmap: Mapping[str, Any]) -> list[Applied]:
    data = json.loads((configmap.get("data") or {}).get(INVENTORY_KEY) or "[]")
    return [Applied(d["apiVersion"], d["kind"], d["name"], d.get("namespace")) for d in data]
