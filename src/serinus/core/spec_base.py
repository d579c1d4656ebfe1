"""The building blocks every spec model shares: the base class, durations, names.

Kept apart from `spec` so that section modules (notifications, analysis, routing) can build on
them while `spec` imports those sections, without an import cycle.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from `30`, `30s`, `500ms`, `5m` or `1h`."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '30s', '5m', '1h'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(
            f"invalid duration {value!r}: use seconds or a string like '30s', '500ms', '5m', '1h'"
        )
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
Percent = Annotated[int, Field(ge=0, le=100, strict=True)]
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class SpecModel(BaseModel):
    """Base of every spec model: camelCase on the wire, unknown fields rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, alias_generator=to_camel, frozen=True
    )


def _exactly_one(model: BaseModel, what: str) -> str:
    chosen = [name for name in type(model).model_fields if getattr(model, name) is not None]
    names = ", ".join(field.alias or name for name, field in type(model).model_fields.items())
    if len(chosen) != 1:
        raise ValueError(f"{what} needs exactly one of: {names} (got {len(chosen)})")
    field = type(model).model_fields[chosen[0]]
    return field.alias or chosen[0]


class Metadata(SpecModel):
    name: str = Field(pattern=DNS_LABEL, max_length=53)
    namespace: str = Field(default="default", pattern=DNS_LABEL, max_length=63)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class StatusModel(BaseModel):
    """Base of persisted state models: camelCase in storage, immutable, tolerant on read."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, alias_generator=to_camel)
