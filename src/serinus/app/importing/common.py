"""Pieces both importers need: Go durations, a version from an image, the router override."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from serinus.core.errors import InvalidInput

_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_VERSION = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")


def seconds(value: Any) -> float | None:
    """Seconds from a Go duration (`1h30m`, `500ms`), a bare number (seconds), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    parts = _GO_DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _GO_UNIT_SECONDS[unit] for number, unit in parts)


def version_of_image(image: str) -> str | None:
    """The tag of `repo/name:tag` (or a short digest), if it is a valid serinus version."""
    name, _, digest = image.partition("@")
    if digest:
        candidate = digest.replace(":", "-")[:19]
    else:
        last = name.rsplit("/", 1)[-1]
        candidate = last.partition(":")[2] or "latest"
    return candidate if _VERSION.match(candidate) and len(candidate) <= 63 else None


ROUTER_KINDS = ("istio", "gateway-api", "nginx")


@dataclass(frozen=True)
class RouterChoice:
    """`--router KIND:NAME`: the router to use when the source's own cannot be translated."""

    kind: str
    name: str

    @classmethod
    def parse(cls, text: str) -> RouterChoice:
        kind, _, name = text.partition(":")
        if kind not in ROUTER_KINDS or not name:
            raise InvalidInput(
                [
                    f"--router: {text!r} is not KIND:NAME with KIND one of "
                    f"{', '.join(ROUTER_KINDS)} (e.g. istio:my-virtualservice)"
                ],
                "serinus import",
            )
        return cls(kind, name)

    def routing(self) -> dict[str, Any]:
        if self.kind == "istio":
            return {"istio": {"virtualService": {"name": self.name}}}
        if self.kind == "gateway-api":
            return {"gatewayAPI": {"httpRoute": self.name}}
        return {"nginx": {"stableIngress": self.name}}


def key(document: dict[str, Any]) -> str:
    metadata = document.get("metadata") or {}
    namespace = metadata.get("namespace")
    name = metadata.get("name", "?")
    kind = document.get("kind", "?")
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def metadata_of(document: dict[str, Any]) -> dict[str, Any]:
    metadata = document.get("metadata") or {}
    out: dict[str, Any] = {"name": metadata.get("name")}
    if metadata.get("namespace"):
        out["namespace"] = metadata["namespace"]
    return out


def find(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    for document in documents:
        if document.get("kind") == kind and (document.get("metadata") or {}).get("name") == name:
            return document
    return None
