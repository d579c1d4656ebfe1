"""Versions that run without user traffic, as the rollout page shows them.

The blue-green preview: the new version at full size, reached at its own address (HAProxy's
preview port) while it takes no user traffic, until promotion. The rollback window: after a
completed rollout, the previous version kept at weight 0 until a deadline, so that `undo` moves
traffic back at once instead of provisioning it again. Each is None when it is not open.
"""

from __future__ import annotations

from serinus.core.spec import Rollout
from serinus.core.status import TERMINAL_PHASES, RolloutStatus
from serinus.entrypoints.api.models import PreviewView, RollbackWindowView
from serinus.entrypoints.describing import preview_url


def preview(rollout: Rollout, status: RolloutStatus | None) -> PreviewView | None:
    # Stopped (aborted, failed, completed): the preview route is on its way out, not open.
    if status is None or status.preview is None or status.phase in TERMINAL_PHASES:
        return None
    version = status.version_of(status.preview)
    if version is None:
        return None
    return PreviewView(version=version, color=status.preview, url=preview_url(rollout))


def rollback_window(rollout: Rollout, status: RolloutStatus | None) -> RollbackWindowView | None:
    window = status.rollback_window if status is not None else None
    if status is None or window is None:
        return None
    return RollbackWindowView(
        version=window.version,
        color=window.color,
        replicas=window.replicas,
        full_replicas=rollout.spec.workload.replicas,
        ready=status.ready.get(window.color, 0),
        until=window.until,
    )
