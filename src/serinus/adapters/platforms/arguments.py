"""Checks of `Platform.ensure` arguments shared by the platforms: bad input changes nothing."""

from __future__ import annotations

from serinus.core.errors import InvalidInput
from serinus.core.status import COLORS

MAX_REPLICAS = 200  # as ProcessWorkload.replicas allows


def check_ensure_arguments(color: str, version: str, replicas: int, source: str) -> None:
    """Raise InvalidInput naming every bad argument of `ensure(color, version, replicas)`."""
    problems = []
    if color not in COLORS:
        problems.append(f"color: must be one of {', '.join(COLORS)} (got {color!r})")
    if not isinstance(version, str) or not version.strip():
        problems.append(f"version: must be a non-empty string (got {version!r})")
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        problems.append(f"replicas: must be an integer (got {replicas!r})")
    elif not 0 <= replicas <= MAX_REPLICAS:
        problems.append(f"replicas: must be between 0 and {MAX_REPLICAS} (got {replicas})")
    if problems:
        raise InvalidInput(problems, source=f"{source} ensure")
