"""RBAC grants and requests as comparable sets of (API group, resource[/subresource], verb)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from real_kube import AuditEvent

Grant = tuple[str, str, str]


def granted(rules: Iterable[Mapping[str, Any]]) -> set[Grant]:
    """Every (group, resource, verb) the rules allow (resourceNames narrow, never widen)."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def used(requests: Iterable[AuditEvent]) -> set[Grant]:
    """Every (group, resource, verb) the requests needed (discovery URLs need no grant)."""
    return {
        (e.api_group, f"{e.resource}/{e.subresource}" if e.subresource else e.resource, e.verb)
        for e in requests
        if e.resource
    }
