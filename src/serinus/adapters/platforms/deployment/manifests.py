"""The objects the deployment platform owns for a color, computed purely from the spec.

- Deployment `<rollout>-<color>`: the user's pod template with serinus's labels added to the
  pods (rollout, color, version) and a selector of the user's `selector` labels plus rollout and
  color. The selector leaves the version out: it is immutable in Kubernetes, and a new version
  of a color is a template change the Deployment controller rolls out;
- Service `<rollout>-<color>` (when `service` is set): selects that color's pods, for host-level
  routing (an Istio destination host, an HTTPRoute backendRef, an NGINX canary backend).
"""

from __future__ import annotations

import copy
from typing import Any

from serinus.adapters.platforms.kube_workloads import (
    MANAGED_BY,
    VERSION_ANNOTATION,
    color_labels,
    version_labels,
)
from serinus.core.status import Color
from serinus.core.workload_spec import DeploymentWorkload

Object = dict[str, Any]


def color_name(rollout: str, color: Color) -> str:
    return f"{rollout}-{color}"


def deployment(
    rollout: str, workload: DeploymentWorkload, color: Color, version: str, replicas: int
) -> Object:
    labels = {**MANAGED_BY, **workload.selector, **version_labels(rollout, color, version)}
    template = copy.deepcopy(workload.template)
    pod_metadata = dict(template.get("metadata") or {})
    pod_metadata["labels"] = {**(pod_metadata.get("labels") or {}), **labels}
    pod_metadata["annotations"] = {
        **(pod_metadata.get("annotations") or {}),
        VERSION_ANNOTATION: version,
    }
    template["metadata"] = pod_metadata
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": color_name(rollout, color),
            "labels": labels,
            "annotations": {VERSION_ANNOTATION: version},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {**workload.selector, **color_labels(rollout, color)}},
            "progressDeadlineSeconds": workload.progress_deadline_seconds,
            "template": template,
        },
    }


def service(rollout: str, workload: DeploymentWorkload, color: Color) -> Object | None:
    if workload.service is None:
        return None
    ports = []
    for port in workload.service.ports:
        entry: dict[str, Any] = {
            "port": port.port,
            "targetPort": port.target_port if port.target_port is not None else port.port,
            "protocol": port.protocol,
        }
        if port.name:
            entry["name"] = port.name
        ports.append(entry)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": color_name(rollout, color),
            "labels": {**MANAGED_BY, **workload.selector, **color_labels(rollout, color)},
        },
        "spec": {
            "type": workload.service.type,
            "selector": {**workload.selector, **color_labels(rollout, color)},
            "ports": ports,
        },
    }


def merged(current: Object, desired: Object) -> Object | None:
    """`current` with serinus's fields set from `desired`, or None when it already matches.

    Only the fields serinus owns are written (labels and annotations it sets, the spec fields it
    computes); what the server or others added (clusterIP, defaults, other annotations) stays.
    """
    updated = copy.deepcopy(current)
    metadata = updated.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        wanted = desired["metadata"].get(key) or {}
        metadata[key] = {**(metadata.get(key) or {}), **wanted}
    spec = updated.setdefault("spec", {})
    for key, value in desired["spec"].items():
        spec[key] = copy.deepcopy(value)
    return None if updated == current else updated
