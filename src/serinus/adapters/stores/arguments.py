"""Checks on StateStore call arguments, shared by every store so they refuse the same input."""

from __future__ import annotations

from collections.abc import Sequence

from serinus.core.errors import InvalidInput
from serinus.core.intents import Intent


def check_consumed(consumed: Sequence[Intent]) -> None:
    """Consumed intents must be recorded ones (an id) that say what came of them (outcome)."""
    problems = []
    for index, intent in enumerate(consumed):
        if intent.id <= 0:
            problems.append(f"consumed[{index}].id: not a recorded intent (id {intent.id})")
        if intent.outcome is None:
            problems.append(f"consumed[{index}].outcome: required for a consumed intent")
    if problems:
        raise InvalidInput(problems, source="save request")


def check_limit(limit: int, what: str) -> None:
    if limit < 0:
        raise InvalidInput([f"limit: must be 0 or more, got {limit}"], source=what)
