"""How the CLI writes times: instants as ISO 8601 with the time zone, spans as `3m12s`."""

from __future__ import annotations

from datetime import datetime


def iso_time(at: float) -> str:
    """`2026-12-01T23:38:55+00:00`: local time with its offset, unambiguous in an audit."""
    return datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")


def duration(seconds: float) -> str:
    """`3m12s`, `1h02m`, `45s`: short and exact to the second below an hour."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
