"""The Rollout CustomResourceDefinition, generated from the spec models.

`python -m serinus.adapters.kube.crd > deploy/crds/rollouts.serinus.io.yaml` writes it; a unit
test fails when the committed file is stale. The API server wants a *structural* OpenAPI v3
schema, which pydantic's JSON schema is not, so `structural` rewrites it:

- `$ref`s are inlined (structural schemas have no references);
- `Optional[X]` (`anyOf: [X, null]`) becomes X with `nullable: true`; `int | str` becomes
  `x-kubernetes-int-or-string`; durations (`30`, `0.5`, `"30s"`, `"5m"`) are a number or a
  string, which only `x-kubernetes-preserve-unknown-fields` allows (int-or-string would refuse
  `0.5`, and serinus itself stores parsed durations as numbers);
- `const` becomes a one-value `enum`; JSON Schema 2020's numeric `exclusiveMinimum` becomes
  OpenAPI v3's `minimum` + boolean `exclusiveMinimum`;
- `additionalProperties: false` (unknown fields are refused by serinus's own validation) is
  dropped: the server prunes unknown fields of a structural schema anyway and refuses
  `additionalProperties` beside `properties`; free-form maps (`dict[str, Any]`: pod templates,
  Helm values) get `x-kubernetes-preserve-unknown-fields`;
- `title` and `default` are dropped (serinus applies its defaults; the server would otherwise
  write them into every stored object).

What the schema cannot say (exactly one workload/router/strategy/step kind, cross-field rules)
is checked by serinus when it reads the Rollout, and the status says why it cannot run.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from serinus.core.spec import API_VERSION, KIND, Rollout

GROUP, VERSION = API_VERSION.split("/")
PLURAL = "rollouts"
SINGULAR = "rollout"
# `ro` is Argo Rollouts' short name; serinus's must not clash with it in the same cluster.
SHORT_NAMES = ["sro", "srollout"]
CATEGORIES = ["serinus"]

_DROPPED = {"title", "default", "$defs", "examples"}


class _SpecSchema(GenerateJsonSchema):
    """pydantic's generator, marking durations (a number or a `30s`-like string)."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        # By name: the duration parser is the spec package's `parse_duration`, wherever it lives.
        function = schema["function"].get("function")
        if getattr(function, "__name__", "") == "parse_duration":
            return {
                "x-kubernetes-preserve-unknown-fields": True,
                "description": "Seconds (a number) or a string like '30s', '500ms', '5m', '1h'.",
            }
        return super().function_before_schema(schema)


def structural(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pydantic JSON schema rewritten as a structural OpenAPI v3 schema (see module doc)."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)
    if "anyOf" in schema:
        return _union(schema, defs)
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        if key == "const":
            result["enum"] = [value]
        elif key == "properties":
            result["properties"] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key == "items":
            result["items"] = structural(value, defs)
        elif key == "additionalProperties":
            if isinstance(value, dict) and value:
                result["additionalProperties"] = structural(value, defs)
            elif value is True or value == {}:
                result["x-kubernetes-preserve-unknown-fields"] = True
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            result["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            result[key] = True
        else:
            result[key] = value
    if result.get("x-kubernetes-preserve-unknown-fields") and "properties" not in result:
        result.pop("additionalProperties", None)
    if "x-kubernetes-int-or-string" not in result and "type" not in result:
        # A free-form value (Any): keep whatever the user wrote.
        result["x-kubernetes-preserve-unknown-fields"] = True
    return result


def _union(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    branches = [structural(b, defs) for b in schema["anyOf"] if b.get("type") != "null"]
    nullable = len(branches) < len(schema["anyOf"])
    outer = {k: v for k, v in schema.items() if k not in ("anyOf", *_DROPPED)}
    types = {b.get("type") for b in branches}
    result: dict[str, Any]
    if len(branches) == 1:
        result = {**branches[0], **outer}
    elif len(types) == 1 and None not in types and all("enum" in b for b in branches):
        # e.g. an enum or "*": one enum holding every value.
        values = [v for b in branches for v in b["enum"]]
        result = {**outer, "type": types.pop(), "enum": list(dict.fromkeys(values))}
    elif types == {"integer", "string"}:
        result = {**outer, "x-kubernetes-int-or-string": True}
    else:
        # No structural form (e.g. a number or a duration string): any value is kept and
        # serinus's own validation decides.
        result = {**outer, "x-kubernetes-preserve-unknown-fields": True}
    if nullable:
        result["nullable"] = True
    return result


STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Written by serinus; `serinus` holds its full state (see stores/kubernetes).",
    "x-kubernetes-preserve-unknown-fields": True,
    "properties": {
        "phase": {"type": "string"},
        "message": {"type": "string"},
        "step": {"type": "integer", "description": "Index of the current step."},
        "stepCount": {"type": "integer"},
        "weight": {"type": "integer", "description": "The canary's share of traffic (%)."},
        "stableVersion": {"type": "string"},
        "canaryVersion": {"type": "string"},
        "observedGeneration": {"type": "integer", "format": "int64"},
        "weights": {"type": "object", "additionalProperties": {"type": "integer"}},
        "conditions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "status"],
                "properties": {
                    "type": {"type": "string"},
                    "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                    "lastTransitionTime": {"type": "string", "format": "date-time"},
                },
            },
        },
    },
}

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Step", "type": "integer", "jsonPath": ".status.step"},
    {"name": "Weight", "type": "integer", "jsonPath": ".status.weight"},
    {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def rollout_schema() -> dict[str, Any]:
    """The openAPIV3Schema of the Rollout resource."""
    generated = Rollout.model_json_schema(by_alias=True, schema_generator=_SpecSchema)
    spec = structural(generated["properties"]["spec"], generated["$defs"])
    return {
        "type": "object",
        "description": "A progressive delivery of a service by serinus.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": STATUS_SCHEMA,
        },
    }


def rollout_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": CATEGORIES,
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": rollout_schema()},
                }
            ],
        },
    }


HEADER = (
    "# Generated by `python -m serinus.adapters.kube.crd` from serinus.core.spec: do not edit.\n"
)


class _NoAliases(yaml.SafeDumper):
    """Shared sub-schemas are written out in full: no `&id001` anchors in a manifest."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render() -> str:
    return HEADER + yaml.dump(rollout_crd(), Dumper=_NoAliases, sort_keys=False, width=100)


if __name__ == "__main__":
    sys.stdout.write(render())
