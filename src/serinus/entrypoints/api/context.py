"""What every request handler needs, built once by `create_app` and kept on the app's state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

from serinus.app.metrics import SerinusMetrics
from serinus.core.ports import StateStore
from serinus.entrypoints.api.access import Access
from serinus.entrypoints.api.auth import FailureThrottle
from serinus.entrypoints.api.directory import Directory

if TYPE_CHECKING:
    from serinus.app.notifications import DeliveryFailure

# Recent failed notification deliveries of a rollout (the dispatcher's `failures`), when the
# process serving the API is also the one notifying.
FailureSource = Callable[[str], Sequence["DeliveryFailure"]]


@dataclass(frozen=True)
class ApiContext:
    store: StateStore  # the default namespace's (metrics, and requests naming no namespace)
    directory: Directory
    access: Access
    throttle: FailureThrottle
    metrics: SerinusMetrics
    failures: FailureSource | None
    poll_seconds: float
    heartbeat_seconds: float
    # The operator's intent key: operations recorded here are sealed with it, so the engine
    # trusts their grants (see core.authorization). None outside the operator.
    intent_key: bytes | None = None
    # Set when the server shuts down: live streams end on their own instead of being cancelled
    # (uvicorn waits for open responses, then cancels them with a traceback each).
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def failures_of(self, name: str) -> list[dict[str, Any]]:
        if self.failures is None:
            return []
        return [failure.to_dict() for failure in self.failures(name)]


def api_context(request: Request) -> ApiContext:
    context = request.app.state.serinus
    assert isinstance(context, ApiContext)
    return context
