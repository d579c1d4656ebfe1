"""Actions: the effects `decide` asks the engine to perform, in order.

Each action is idempotent: performing it again when the world already matches changes nothing,
which is what makes a reconcile safe to repeat after a crash.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from serinus.core.status import Color


class Action(BaseModel):
    model_config = ConfigDict(frozen=True)


class EnsureVersion(Action):
    """Run `replicas` replicas of `version` as `color` (replacing another version of that color)."""

    color: Color
    version: str
    replicas: int


class SetWeights(Action):
    """Route traffic by color; the router raises before it lowers and verifies the result."""

    weights: dict[Color, int]


class SetHeaderRoute(Action):
    name: str
    matches: list[dict[str, Any]]
    color: Color


class RemoveHeaderRoute(Action):
    name: str


class SetPreview(Action):
    """Send the preview route (blueGreen's test entry point) to `color`, or remove it."""

    color: Color | None


class SetMirror(Action):
    """Mirror `percentage`% of the requests to `color` (None: stop mirroring)."""

    color: Color | None
    percentage: int


class TearDown(Action):
    color: Color


def describe(action: Action) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in action.model_dump().items())
    return f"{type(action).__name__}({fields})"
