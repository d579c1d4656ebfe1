"""Every number of the spec is finite and bounded, every list and map has a maximum size.

The schema walk is the systematic check: a new field without bounds fails it, whoever adds it.
Durations are bounded inside `parse_duration` (the table below), strings by the base model's
`str_max_length` unless a field sets its own.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from serinus.core.analysis.spec import AnalysisTemplate
from serinus.core.spec import Rollout
from serinus.core.spec_base import MAX_DURATION_SECONDS, MAX_STRING, SpecModel, parse_duration

# Kayenta's judge settings (core/judge) keep Kayenta's own ranges; serinus checks they are
# finite (Comparison's validator, tested in analysis/test_spec.py).
KAYENTA_BLOCKS = ("comparison.canaryConfig", "comparison.judge")


class _Durations(GenerateJsonSchema):
    """Durations as the numbers `parse_duration` makes of them: 0 to a year."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        if getattr(schema["function"].get("function"), "__name__", "") == "parse_duration":
            return {"type": "number", "minimum": 0, "maximum": MAX_DURATION_SECONDS}
        return super().function_before_schema(schema)


def unbounded(schema: dict[str, Any], defs: dict[str, Any], path: str, seen: set[str]) -> list[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        return unbounded({**defs[name], **rest}, defs, path, {*seen, name})
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            found += unbounded(branch, defs, path, seen)
    kind = schema.get("type")
    if kind in ("integer", "number") and "enum" not in schema and "const" not in schema:
        low = "minimum" in schema or "exclusiveMinimum" in schema
        high = "maximum" in schema or "exclusiveMaximum" in schema
        if not (low and high):
            found.append(f"{path}: {kind} without minimum and maximum")
    if kind == "array":
        if "maxItems" not in schema:
            found.append(f"{path}: list without maxItems")
        found += unbounded(schema.get("items", {}), defs, f"{path}[]", seen)
    if kind == "object":
        extra = schema.get("additionalProperties")
        free_form = schema.get("x-kubernetes-preserve-unknown-fields")
        if isinstance(extra, dict) and not free_form:
            if "maxProperties" not in schema:
                found.append(f"{path}: map without maxProperties")
            found += unbounded(extra, defs, f"{path}.*", seen)
        for name, sub in schema.get("properties", {}).items():
            found += unbounded(sub, defs, f"{path}.{name}" if path else name, seen)
    return found


@pytest.mark.parametrize("model", [Rollout, AnalysisTemplate])
def test_every_number_list_and_map_of_the_spec_is_bounded(model: type[BaseModel]) -> None:
    schema = model.model_json_schema(by_alias=True, schema_generator=_Durations)
    found = unbounded(schema, schema.get("$defs", {}), "", set())
    assert [item for item in found if not any(block in item for block in KAYENTA_BLOCKS)] == []


def spec_models(root: type[BaseModel]) -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    todo = [root]
    while todo:
        model = todo.pop()
        if model in found:
            continue
        found.add(model)
        for field in model.model_fields.values():
            todo += [t for t in _types_in(field.annotation) if issubclass(t, BaseModel)]
    return found


def _types_in(annotation: Any) -> list[type]:
    if isinstance(annotation, type):
        return [annotation]
    return [t for arg in getattr(annotation, "__args__", ()) for t in _types_in(arg)]


@pytest.mark.parametrize("model", [Rollout, AnalysisTemplate])
def test_every_string_of_the_spec_has_a_maximum_length(model: type[BaseModel]) -> None:
    outside = sorted(
        m.__name__
        for m in spec_models(model)
        if m.model_config.get("str_max_length") is None
        and m.__module__ != "serinus.core.judge"
        and not m.__module__.startswith("serinus.core.judge.")
    )
    assert outside == []
    assert SpecModel.model_config.get("str_max_length") == MAX_STRING


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (30, 30.0),
        (0, 0.0),
        (1.5, 1.5),
        ("30", 30.0),
        ("30s", 30.0),
        ("500ms", 0.5),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("0.25s", 0.25),
        ("8760h", MAX_DURATION_SECONDS),
    ],
)
def test_durations_parse(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (math.nan, "not NaN"),
        (math.inf, "at most"),
        (-math.inf, "negative"),
        (-1, "negative"),
        (1e308, "at most"),
        (10**400, "at most"),
        (MAX_DURATION_SECONDS + 1, "at most"),
        ("8761h", "at most"),
        ("1" * 400 + "s", "invalid duration"),
        ("30 s", "no spaces"),
        (" 30s", "no spaces"),
        ("", "invalid duration"),
        ("1d", "invalid duration"),
        ("-5s", "invalid duration"),
        ("nan", "invalid duration"),
        ("inf", "invalid duration"),
        ("1e3s", "invalid duration"),
        (True, "a duration is a number"),
        (None, "invalid duration"),
        ([1], "invalid duration"),
    ],
)
def test_bad_durations_are_refused(value: Any, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        parse_duration(value)


def test_string_backstop_applies_to_fields_without_their_own_limit() -> None:
    class Probe(SpecModel):
        free: str = ""

    Probe(free="x" * MAX_STRING)
    with pytest.raises(ValidationError, match="at most 4096 characters"):
        Probe(free="x" * (MAX_STRING + 1))
