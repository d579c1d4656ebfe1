"""Spec models of the Kubernetes workloads: `spec.workload.deployment` and `spec.workload.helm`.

- `deployment`: serinus owns one Deployment per color, `<rollout>-<color>`, built from a pod
  template the user writes as in any Deployment (the template is kept free-form: the API server
  validates pods; serinus only checks that containers are there), plus an optional Service per
  color for host-level routing.
- `helm`: serinus renders a chart once per color (`helm template <release>-<color>`), labels
  what it renders and applies it, as Spinnaker's Bake (Manifest) + Deploy (Manifest) stages do.

Replica counts (what `Workload.replicas` answers): `deployment.replicas`; for helm the
`replicas` field when set, else the chart's `values.replicaCount` (the convention of
`helm create`), else 1. The engine then sets the count of every Deployment the chart renders
for a color to the number it wants (blue's size, or a share by weight for `canary`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from serinus.core.spec_base import (
    DNS_LABEL,
    LABEL_KEY,
    MAX_DURATION_SECONDS,
    FilePath,
    Line,
    Port,
    SpecModel,
    Url,
    free_form,
    keys_matching,
)

MAX_REPLICAS = 200
LabelKey = Annotated[str, Field(max_length=317, pattern=LABEL_KEY)]
# A label value: at most 63 characters, alphanumerics at both ends.
LabelValue = Annotated[
    str, Field(max_length=63, pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
]
# A key of a Helm `--set` (`image.tag`, `a.b[0].c`): never an option, no `=` or `,`.
HELM_KEY = r"^[A-Za-z0-9_][A-Za-z0-9_.\[\]/-]*$"
# A chart reference or a version constraint passed to helm: one line, never an option.
HELM_ARGUMENT = r"^[^\x00-\x1f\x7f\-][^\x00-\x1f\x7f]*$"


class ServicePort(SpecModel):
    name: str | None = Field(default=None, pattern=DNS_LABEL, max_length=15)
    port: Port
    target_port: Port | Annotated[str, Field(pattern=DNS_LABEL, max_length=15)] | None = Field(
        default=None, description="A container port number or name; default: `port`."
    )
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


class ColorService(SpecModel):
    """A Service per color, `<rollout>-<color>`, selecting only that color's pods."""

    ports: list[ServicePort] = Field(min_length=1, max_length=20)
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"


class DeploymentWorkload(SpecModel):
    """One Deployment per color from a pod template (`spec.template` of a Deployment)."""

    replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS, strict=True)
    template: dict[str, Any] = Field(
        description="A PodTemplateSpec (metadata, spec) as in a Deployment; free-form.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    selector: dict[Annotated[str, Field(max_length=317)], LabelValue] = Field(
        default_factory=dict,
        max_length=20,
        description="Labels added to the pods and the selectors (e.g. app: game); serinus adds "
        "serinus.io/rollout and serinus.io/color.",
    )
    service: ColorService | None = None
    progress_deadline_seconds: int = Field(
        default=600, ge=1, le=int(MAX_DURATION_SECONDS), strict=True
    )

    @field_validator("template")
    @classmethod
    def _has_containers(cls, template: dict[str, Any]) -> dict[str, Any]:
        free_form(template)
        pod = template.get("spec")
        if not isinstance(pod, dict):
            raise ValueError("template.spec: a pod spec with containers is required")
        containers = pod.get("containers")
        if not isinstance(containers, list) or not containers:
            raise ValueError("template.spec.containers: at least one container is required")
        for index, container in enumerate(containers):
            if not isinstance(container, dict) or not container.get("name"):
                raise ValueError(f"template.spec.containers[{index}].name: required")
            if not container.get("image"):
                raise ValueError(f"template.spec.containers[{index}].image: required")
        metadata = template.get("metadata", {})
        if not isinstance(metadata, dict):
            raise ValueError("template.metadata: must be an object")
        return template

    @field_validator("selector")
    @classmethod
    def _label_keys(cls, selector: dict[str, str]) -> dict[str, str]:
        for key in selector:
            if not re.match(LABEL_KEY, key):
                raise ValueError(f"selector: {key!r} is not a valid label key")
            if key.startswith("serinus.io/"):
                raise ValueError(f"selector: {key!r} is reserved for serinus")
        return selector


class HelmWorkload(SpecModel):
    """A Helm chart rendered once per color and applied through the Kubernetes API."""

    chart: str = Field(
        min_length=1,
        max_length=4096,
        pattern=HELM_ARGUMENT,
        description="A chart directory or archive, a repo/chart reference, or an oci:// URL.",
    )
    repo: Url | None = Field(default=None, description="Chart repository URL (helm --repo).")
    chart_version: str | None = Field(
        default=None, max_length=253, pattern=HELM_ARGUMENT, description="helm --version."
    )
    release: str | None = Field(
        default=None,
        pattern=DNS_LABEL,
        max_length=45,
        description="Release name prefix; default: the rollout's name. Colors render as "
        "`<release>-<color>`.",
    )
    values: dict[str, Any] = Field(
        default_factory=dict, json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}
    )
    values_files: list[FilePath] = Field(default_factory=list, max_length=20)
    set: Annotated[dict[str, Line], keys_matching(HELM_KEY, "a Helm value key")] = Field(
        default_factory=dict, max_length=100, description="helm --set key=value."
    )
    version_value: str | None = Field(
        default="image.tag",
        max_length=253,
        pattern=HELM_KEY,
        description="The values key set to spec.version (helm --set); null: do not set it.",
    )
    replicas: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_REPLICAS,
        description="Replicas per color; default: values.replicaCount, else 1.",
    )
    helm_binary: FilePath | None = Field(
        default=None, description="Path of helm; default: $SERINUS_HELM, else helm on PATH."
    )
    namespace: str | None = Field(
        default=None,
        pattern=DNS_LABEL,
        max_length=63,
        description="Default: the rollout's namespace.",
    )
    timeout_seconds: int = Field(
        default=60, ge=1, le=3600, strict=True, description="helm's time limit."
    )

    @field_validator("values")
    @classmethod
    def _plain_values(cls, values: dict[str, Any]) -> dict[str, Any]:
        return free_form(values)

    @model_validator(mode="after")
    def _replica_count_in_range(self) -> HelmWorkload:
        count = self.values.get("replicaCount")
        if self.replicas is None and count is not None:
            if isinstance(count, bool) or not isinstance(count, int):
                raise ValueError("values.replicaCount: must be an integer (or set replicas)")
            if not 1 <= count <= MAX_REPLICAS:
                raise ValueError(f"values.replicaCount: must be between 1 and {MAX_REPLICAS}")
        return self

    @property
    def replica_count(self) -> int:
        """The documented rule: `replicas`, else `values.replicaCount`, else 1."""
        if self.replicas is not None:
            return self.replicas
        from_values = self.values.get("replicaCount")
        if isinstance(from_values, int) and not isinstance(from_values, bool):
            return from_values
        return 1
