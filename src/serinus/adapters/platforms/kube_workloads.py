"""What the Kubernetes platforms (deployment, helm) share: serinus's labels and how a color's
state is read from its Deployments and pods.

Labels on everything serinus creates: `serinus.io/rollout` (the rollout's name),
`serinus.io/color` (blue or green) and `serinus.io/version` (the version as a label value);
the exact version string is also kept in the `serinus.io/version` annotation, which is what
`observe` reports. Pods carry the same labels, so Services and DestinationRule subsets select a
color by `serinus.io/color`.

Readiness follows the Deployment controller's status, read the way `kubectl rollout status`
does: a status older than the spec (`observedGeneration < generation`) counts nothing as ready;
otherwise ready = min(updatedReplicas, availableReplicas). Endpoints are the color's pods of the
current version, ordered by creation time then name (replica index = position), with their pod
IP and the first container port.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from serinus.core.status import Color, ColorState, Endpoint

ROLLOUT_LABEL = "serinus.io/rollout"
COLOR_LABEL = "serinus.io/color"
VERSION_LABEL = "serinus.io/version"
VERSION_ANNOTATION = "serinus.io/version"
MANAGED_BY = {"app.kubernetes.io/managed-by": "serinus"}

# Container states that mean the version cannot run; reported as the color's failure.
FAILING_WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)

Object = dict[str, Any]


def label_value(text: str) -> str:
    """`text` as a valid label value: at most 63 characters, alphanumeric at both ends."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def color_labels(rollout: str, color: Color) -> dict[str, str]:
    return {ROLLOUT_LABEL: rollout, COLOR_LABEL: color}


def version_labels(rollout: str, color: Color, version: str) -> dict[str, str]:
    return {**color_labels(rollout, color), VERSION_LABEL: label_value(version)}


def selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def deployment_ready(deployment: Mapping[str, Any]) -> int:
    """How many replicas of the Deployment's current template are available."""
    metadata = deployment.get("metadata") or {}
    status = deployment.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(metadata.get("generation") or 0):
        return 0
    desired = int((deployment.get("spec") or {}).get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    return max(0, min(updated, available, desired))


def deployment_failure(deployment: Mapping[str, Any]) -> str | None:
    name = (deployment.get("metadata") or {}).get("name", "?")
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        kind, value = condition.get("type"), condition.get("status")
        reason = condition.get("reason", "")
        if kind == "Progressing" and value == "False" and reason == "ProgressDeadlineExceeded":
            return f"Deployment {name}: {reason}: {condition.get('message', '')}".rstrip(": ")
        if kind == "ReplicaFailure" and value == "True":
            return f"Deployment {name}: {reason}: {condition.get('message', '')}".rstrip(": ")
    return None


def pod_failure(pod: Mapping[str, Any]) -> str | None:
    name = (pod.get("metadata") or {}).get("name", "?")
    status = pod.get("status") or {}
    for container in [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in FAILING_WAITING_REASONS:
            detail = waiting.get("message") or ""
            text = f"pod {name} container {container.get('name', '?')}: {waiting['reason']}"
            return f"{text}: {detail}" if detail else text
    return None


def pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def first_container_port(pod_spec: Mapping[str, Any]) -> int:
    for container in pod_spec.get("containers") or []:
        for port in container.get("ports") or []:
            if isinstance(port.get("containerPort"), int):
                return int(port["containerPort"])
    return 0


def endpoints(pods: Iterable[Mapping[str, Any]], version_label: str) -> list[Endpoint]:
    """The running pods of one version as endpoints, replica index by creation order."""
    current = [
        pod
        for pod in pods
        if labels_of(pod).get(VERSION_LABEL) == version_label
        and not (pod.get("metadata") or {}).get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]
    current.sort(
        key=lambda p: (
            str((p.get("metadata") or {}).get("creationTimestamp", "")),
            str((p.get("metadata") or {}).get("name", "")),
        )
    )
    return [
        Endpoint(
            host=str((pod.get("status") or {}).get("podIP") or ""),
            port=first_container_port(pod.get("spec") or {}),
            ready=pod_ready(pod),
            replica=index,
        )
        for index, pod in enumerate(current)
    ]


def color_state(
    deployments: Sequence[Mapping[str, Any]], pods: Sequence[Mapping[str, Any]]
) -> ColorState:
    """One color's state from its Deployments (one for `deployment`, any number for helm) and
    its pods. With several Deployments the color is as ready as its least ready one."""
    if not deployments:
        return ColorState()
    annotations = (deployments[0].get("metadata") or {}).get("annotations") or {}
    version = annotations.get(VERSION_ANNOTATION) or labels_of(deployments[0]).get(VERSION_LABEL)
    desired = min(int((d.get("spec") or {}).get("replicas", 1)) for d in deployments)
    ready = min(deployment_ready(d) for d in deployments)
    failure = next((f for f in (deployment_failure(d) for d in deployments) if f), None) or next(
        (f for f in (pod_failure(p) for p in pods) if f), None
    )
    primary = labels_of(deployments[0]).get(VERSION_LABEL, "")
    first_name = (deployments[0].get("metadata") or {}).get("name")
    own_pods = [p for p in pods if _owned_by(p, first_name)] if len(deployments) > 1 else pods
    return ColorState(
        version=version,
        desired=desired,
        ready=ready if failure is None else 0,
        endpoints=endpoints(own_pods, primary) if desired else [],
        failure=failure,
    )


def _owned_by(pod: Mapping[str, Any], deployment: str | None) -> bool:
    """Whether a pod belongs to a Deployment (its ReplicaSet is `<deployment>-<hash>`)."""
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    names = [str(o.get("name", "")) for o in owners]
    name = str((pod.get("metadata") or {}).get("name", ""))
    return any(n.rsplit("-", 1)[0] == deployment for n in names) or name.startswith(
        f"{deployment}-"
    )
