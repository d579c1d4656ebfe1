"""The lines `serinus get` and the live view add for a rollback window and a router outage.

A window costs replicas: the kept version runs beside the live one until it closes, so the line
says how many of the full size it keeps and until when (in UTC, as logs and tickets read it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from serinus.core.status import RolloutStatus
from serinus.entrypoints.cli.clock import duration


def utc_clock(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%H:%M:%S UTC")


def window_line(status: RolloutStatus, full: int, now: float) -> str | None:
    """`rollback window: v1 kept at 1/3 replicas until 07:12:00 UTC (in 9m12s; undo is
    instant)`, or None when no window is open."""
    window = status.rollback_window
    if window is None:
        return None
    left = window.until - now
    when = f"in {duration(left)}" if left > 0 else "closes at the next reconcile"
    return (
        f"rollback window: {window.version} kept at {window.replicas}/{full} replicas until "
        f"{utc_clock(window.until)} ({when}; undo is instant)"
    )


def outage_line(status: RolloutStatus, now: float) -> str | None:
    """`router unreachable since 07:02:11 UTC (for 42s): ...`, or None when it answers."""
    outage = status.router_outage
    if outage is None:
        return None
    return (
        f"router unreachable since {utc_clock(outage.since)} (for {duration(now - outage.since)})"
        f": {outage.error}"
    )
