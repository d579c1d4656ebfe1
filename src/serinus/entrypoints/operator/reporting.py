"""Telling people, on the Rollout itself, why the operator cannot run it.

The engine persists status only when every action succeeded, so a reconcile that fails (a helm
chart that does not render, a VirtualService that does not exist, RBAC refusing a write) would
otherwise leave no trace on the Rollout. The operator adds a `ReconcileError` condition and sets
`status.message` with the reason, and removes the condition once a reconcile succeeds. The
store's next save rebuilds the conditions from the phase, which also drops it.

The write is a read-modify-write of the status subresource, so pending operations and history
written by others are never lost.
"""

from __future__ import annotations

import datetime
from typing import Any

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import ObjectRef
from serinus.adapters.stores.rollout_resource import ROLLOUTS

CONDITION = "ReconcileError"


def with_error(rollout: dict[str, Any], reason: str, message: str) -> dict[str, Any] | None:
    """The object with the error condition and message; None when it already says so."""
    status = dict(rollout.get("status") or {})
    conditions = [dict(c) for c in status.get("conditions") or []]
    current = next((c for c in conditions if c.get("type") == CONDITION), None)
    if (
        current is not None
        and current.get("status") == "True"
        and current.get("reason") == reason
        and current.get("message") == message
        and status.get("message") == message
    ):
        return None
    condition = {
        "type": CONDITION,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastTransitionTime": _now(),
    }
    status["conditions"] = [c for c in conditions if c.get("type") != CONDITION] + [condition]
    status["message"] = message
    return {**rollout, "status": status}


def without_error(rollout: dict[str, Any]) -> dict[str, Any] | None:
    """The object without the error condition (and its message); None when there is none."""
    status = dict(rollout.get("status") or {})
    conditions = [dict(c) for c in status.get("conditions") or []]
    current = next((c for c in conditions if c.get("type") == CONDITION), None)
    if current is None:
        return None
    status["conditions"] = [c for c in conditions if c.get("type") != CONDITION]
    if status.get("message") == current.get("message"):
        status.pop("message", None)  # omitempty: an empty string is left out
    return {**rollout, "status": status}


class ErrorReporter:
    """Writes and clears the error condition of one rollout, only when it changes."""

    def __init__(self, client: KubeClient, namespace: str, name: str) -> None:
        self.client = client
        self.ref = ObjectRef(ROLLOUTS, namespace, name)
        self._shown: str | None = None
        self._maybe_stale = True  # a previous operator process may have left one

    async def report(self, reason: str, message: str) -> None:
        if self._shown == message:
            return
        await self.client.read_modify_write(
            self.ref, lambda obj: with_error(obj, reason, message), subresource="status"
        )
        self._shown = message

    async def clear(self) -> None:
        if self._shown is None and not self._maybe_stale:
            return
        await self.client.read_modify_write(self.ref, without_error, subresource="status")
        self._shown = None
        self._maybe_stale = False

    def saved(self) -> None:
        """The store saved a status: its conditions are rebuilt, so no error is shown."""
        self._shown = None
        self._maybe_stale = False


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
