"""Validation of objects against the real CRDs' `openAPIV3Schema`, plus the checks they lack.

The API server validates custom resources against the structural schema of the served version
and silently prunes unknown fields. serinus must never write an object the server would refuse
or prune, so `SchemaRegistry.problems` reports:

- schema violations (types, enums, required, min/max, patterns, oneOf) through `jsonschema`;
- fields the schema does not declare (they would be pruned: always a serinus bug);
- integer formats: `int32`, `int64`, `uint32` ranges (jsonschema ignores them);
- the ranges the schemas leave out: Istio route weights 0..100 summing to 100, HTTPRoute
  total matches <= 128 (a CEL rule upstream; CEL rules are otherwise not evaluated).

CRD files are YAML (one or many documents); every CustomResourceDefinition in a directory is
loaded, all served versions.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]

from serinus.core.errors import InvalidInput

_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
}
_FORMATS = FormatChecker()


def _in_range(fmt: str) -> Any:
    low, high = _INT_RANGES[fmt]

    def check(value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int):
            return True  # `type` reports non-integers
        return low <= value <= high

    return check


for _fmt in _INT_RANGES:
    _FORMATS.checks(_fmt)(_in_range(_fmt))


@dataclass(frozen=True)
class CrdVersion:
    group: str
    kind: str
    plural: str
    version: str
    namespaced: bool
    schema: Mapping[str, Any]
    subresources: tuple[str, ...]


class SchemaRegistry:
    """The schemas of a set of CRDs, by (apiVersion, kind)."""

    def __init__(self, crds: Iterable[Mapping[str, Any]]) -> None:
        self._versions: dict[tuple[str, str], CrdVersion] = {}
        self._validators: dict[tuple[str, str], Draft7Validator] = {}
        for crd in crds:
            for version in _versions_of(crd):
                api_version = f"{version.group}/{version.version}"
                self._versions[(api_version, version.kind)] = version

    @classmethod
    def from_directory(cls, directory: str | Path) -> SchemaRegistry:
        """Every CRD in the `*.yaml`/`*.yml` files of a directory (cached per directory)."""
        return _load_directory(str(Path(directory).resolve()))

    @property
    def versions(self) -> list[CrdVersion]:
        return list(self._versions.values())

    def knows(self, api_version: str, kind: str) -> bool:
        return (api_version, kind) in self._versions

    def problems(self, obj: Mapping[str, Any]) -> list[str]:
        """Why the server would refuse or prune `obj` (empty when it is valid)."""
        api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
        key = (api_version, kind)
        if key not in self._versions:
            return [f"apiVersion/kind: no CRD schema for {api_version} {kind}"]
        validator = self._validators.get(key)
        if validator is None:
            schema = _closed(dict(self._versions[key].schema))
            validator = Draft7Validator(schema, format_checker=_FORMATS)
            self._validators[key] = validator
        found = [
            f"{_path(error.absolute_path)}: {error.message[:300]}"
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        ]
        found.extend(_extra_checks(kind, obj))
        return found

    def validate(self, obj: Mapping[str, Any]) -> None:
        """Raise InvalidInput naming every problem of `obj`."""
        found = self.problems(obj)
        if found:
            name = (obj.get("metadata") or {}).get("name", "?")
            raise InvalidInput(found, source=f"{obj.get('kind', 'object')} {name!r}")


@functools.lru_cache(maxsize=8)
def _load_directory(directory: str) -> SchemaRegistry:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crds: list[Mapping[str, Any]] = []
    root = Path(directory)
    if not root.is_dir():
        raise InvalidInput([f"{directory}: not a directory of CRD files"], source="schemas")
    for file in sorted([*root.glob("*.yaml"), *root.glob("*.yml")]):
        with file.open(encoding="utf-8") as handle:
            for document in yaml.load_all(handle, Loader=loader):
                if (
                    isinstance(document, dict)
                    and document.get("kind") == "CustomResourceDefinition"
                ):
                    crds.append(document)
    return SchemaRegistry(crds)


def _versions_of(crd: Mapping[str, Any]) -> Iterator[CrdVersion]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {}
        yield CrdVersion(
            group=str(spec.get("group", "")),
            kind=str(names.get("kind", "")),
            plural=str(names.get("plural", "")),
            version=str(version.get("name", "")),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            schema=schema,
            subresources=tuple(sorted((version.get("subresources") or {}).keys())),
        )


def _closed(schema: dict[str, Any], top: bool = True) -> dict[str, Any]:
    """The schema with undeclared fields forbidden where the server would prune them."""
    result = dict(schema)
    if "properties" in result:
        result["properties"] = {
            name: _closed(sub, top=False) for name, sub in result["properties"].items()
        }
        if top:
            # apiVersion/kind/metadata are always allowed even if a CRD omits them.
            for name in ("apiVersion", "kind", "metadata"):
                result["properties"].setdefault(name, {})
        preserve = result.get("x-kubernetes-preserve-unknown-fields", False)
        if "additionalProperties" not in result and not preserve:
            result["additionalProperties"] = False
    for key in ("items", "additionalProperties"):
        if isinstance(result.get(key), dict):
            result[key] = _closed(result[key], top=False)
    for key in ("oneOf", "anyOf", "allOf"):
        if isinstance(result.get(key), list):
            # Branches only add constraints (structural schemas keep types out of them).
            result[key] = [dict(branch) for branch in result[key]]
    return result


def _extra_checks(kind: str, obj: Mapping[str, Any]) -> list[str]:
    spec = obj.get("spec") or {}
    found: list[str] = []
    if kind == "VirtualService":
        for section in ("http", "tcp", "tls"):
            for index, route in enumerate(spec.get(section) or []):
                found.extend(_istio_weights(f"spec.{section}[{index}]", route.get("route") or []))
    if kind == "HTTPRoute":
        total = sum(len(rule.get("matches") or []) for rule in spec.get("rules") or [])
        if total > 128:
            found.append(f"spec.rules: {total} matches in all, at most 128 allowed")
    return found


def _istio_weights(where: str, destinations: list[Mapping[str, Any]]) -> list[str]:
    found: list[str] = []
    weights = [d.get("weight") for d in destinations if isinstance(d, Mapping)]
    for index, weight in enumerate(weights):
        if isinstance(weight, int) and not 0 <= weight <= 100:
            found.append(f"{where}.route[{index}].weight: {weight} is outside 0..100")
    given = [w for w in weights if isinstance(w, int)]
    if len(destinations) > 1 and given and sum(given) != 100:
        found.append(f"{where}.route: weights sum to {sum(given)}, not 100")
    return found


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"
