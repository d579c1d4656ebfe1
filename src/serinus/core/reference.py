"""The field reference of a Rollout, generated from the spec models (`docs/reference.md`).

`python -m serinus.core.reference > docs/reference.md` writes it; a unit test fails when the
committed file is stale, so the reference cannot drift from what `serinus lint` accepts.
Each row: the field path, its type, its default, its limits and what it is for. A field under
`workload.<kind>`, `trafficRouting.<kind>` or `strategy.<kind>` applies to that kind only.
"""

from __future__ import annotations

import enum
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from serinus.core.spec import Rollout

_LIMITS = (
    ("ge", ">= {}"),
    ("gt", "> {}"),
    ("le", "<= {}"),
    ("lt", "< {}"),
    ("min_length", "min length {}"),
    ("max_length", "max length {}"),
    ("pattern", "matches `{}`"),
)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[1])}" if len(args) == 2 else "map"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "object"
        if issubclass(annotation, enum.Enum):
            return " \\| ".join(f"`{m.value}`" for m in annotation)
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            annotation.__name__, annotation.__name__
        )
    return "any" if annotation is Any or str(annotation) == "typing.Any" else str(annotation)


def _is_duration(info: FieldInfo) -> bool:
    validators = [m for m in info.metadata if hasattr(m, "func")]
    return any(getattr(v.func, "__name__", "") == "parse_duration" for v in validators)


def _limits(info: FieldInfo) -> str:
    found = []
    for constraint in info.metadata:
        for name, text in _LIMITS:
            value = getattr(constraint, name, None)
            if value is not None:
                found.append(text.format(str(value).replace("|", "\\|")))
    return ", ".join(found)


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
        return "" if value in ([], {}) or isinstance(value, BaseModel) else f"`{value}`"
    if info.default is PydanticUndefined:
        return "**required**"
    if info.default is None:
        return ""
    if isinstance(info.default, enum.Enum):
        return f"`{info.default.value}`"
    return f"`{info.default}`".replace("True", "true").replace("False", "false")


def _describe(info: FieldInfo, models: list[type[BaseModel]]) -> str:
    text = info.description or ""
    if not text and models and models[0].__doc__:
        text = models[0].__doc__
    return " ".join(text.split()).replace("|", "\\|")


def rows(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str, str, str, str]]:
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        models = _models_in(info.annotation)
        kind = "duration" if _is_duration(info) else _type_name(info.annotation)
        yield path, kind, _default(info), _limits(info), _describe(info, models)
        for nested in models:
            inner = "[]." if typing.get_origin(info.annotation) is list else "."
            if "list of" in kind and inner == ".":
                inner = "[]."
            yield from rows(nested, f"{path}{inner}")


def render() -> str:
    lines = [
        "# Rollout field reference",
        "",
        "Generated from the spec models by `python -m serinus.core.reference`; a test fails when",
        "this file is stale. Durations are seconds (a number) or a string like `30s`, `500ms`,",
        "`5m`, `1h`. Fields under `workload.<kind>`, `trafficRouting.<kind>` and",
        "`strategy.<kind>` apply to that kind only; exactly one kind of each is set.",
        "",
        "| field | type | default | limits | description |",
        "|---|---|---|---|---|",
    ]
    seen: set[str] = set()
    for path, kind, default, limits, description in rows(Rollout):
        if path in seen:
            continue
        seen.add(path)
        lines.append(f"| `{path}` | {kind} | {default} | {limits} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
