"""Validation of TrafficRouter arguments, shared by every router so they reject the same input.

Each function raises InvalidInput naming the argument and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from serinus.core.errors import InvalidInput
from serinus.core.spec import HeaderMatch
from serinus.core.status import COLORS, Color

FULL = 100


def parse_color(value: object, argument: str = "color") -> Color:
    for color in COLORS:
        if value == color:
            return color
    raise InvalidInput(
        [f"{argument}: unknown color {value!r} (expected one of {', '.join(COLORS)})"]
    )


def validate_weights(weights: Mapping[Color, int]) -> dict[Color, int]:
    """Every color's weight (a missing color is 0), or InvalidInput naming every problem.

    Weights are integers (not bools) in 0..100 summing to 100, keyed by known colors.
    """
    problems = [
        f"weights.{key}: unknown color (expected one of {', '.join(COLORS)})"
        for key in weights
        if key not in COLORS
    ]
    result: dict[Color, int] = {}
    for color in COLORS:
        value: object = weights.get(color, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"weights.{color}: must be an integer, got {value!r}")
        elif not 0 <= value <= FULL:
            problems.append(f"weights.{color}: must be between 0 and {FULL}, got {value}")
        else:
            result[color] = value
    if not problems and sum(result.values()) != FULL:
        problems.append(f"weights: must sum to {FULL}, got {sum(result.values())}")
    if problems:
        raise InvalidInput(problems, source="weights")
    return result


def parse_header_matches(route: str, matches: Sequence[Mapping[str, Any]]) -> list[HeaderMatch]:
    """Header matches shaped like `HeaderMatch.model_dump(by_alias=True, exclude_none=True)`."""
    if not matches:
        raise InvalidInput([f"matches: header route {route!r} needs at least one match"])
    models: list[HeaderMatch] = []
    problems: list[str] = []
    for index, match in enumerate(matches):
        try:
            models.append(HeaderMatch.model_validate(match))
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"])
                problems.append(f"matches[{index}].{where}: {error['msg']}")
    if problems:
        raise InvalidInput(problems, source=f"header route {route!r}")
    return models
