"""A rollout, its events and its operations for machines (`-o json|yaml`): plain JSON types only
(strings, numbers, lists, objects), never a Python repr, and instants as ISO 8601."""

from __future__ import annotations

from typing import Any

from serinus.core.events import Event
from serinus.core.intents import Intent
from serinus.core.spec import Rollout
from serinus.core.status import RolloutStatus
from serinus.entrypoints.cli.clock import iso_time
from serinus.entrypoints.cli.steps import next_action, position
from serinus.entrypoints.cli.tree import revisions


def status_json(rollout: Rollout, status: RolloutStatus | None, now: float) -> dict[str, Any]:
    return {
        "name": rollout.name,
        "version": rollout.spec.version,
        "strategy": rollout.spec.strategy.kind,
        "phase": str(status.phase) if status else None,
        "step": position(rollout, status, now) if status else None,
        "next": next_action(rollout, status, now) if status else None,
        "revisions": [
            {
                "version": row.version,
                "color": row.color,
                "role": row.role,
                "weight": row.weight,
                "actualWeight": row.weight if status is not None and status.converged else None,
                "replicas": row.desired,
                "ready": row.ready,
            }
            for row in (revisions(status) if status else [])
        ],
        "status": status.to_storage() if status else None,
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        **event.model_dump(mode="json"),
        "time": iso_time(event.at),
        "severity": event.severity.value,
    }


def intent_json(intent: Intent) -> dict[str, Any]:
    return {**intent.model_dump(mode="json"), "time": iso_time(intent.at)}
