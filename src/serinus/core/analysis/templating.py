"""Filling `{{args.name}}` and `{{canary.selector}}`-style variables into metric sources.

The variables are generic: `{{args.NAME}}` is the template argument NAME, any other `{{NAME}}`
(e.g. `{{canary.selector}}`, which the engine passes) is looked up under NAME. Values are inserted
as they are; an unknown variable is an error naming it and the field it appears in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from serinus.core.errors import InvalidInput

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
ARGS_PREFIX = "args."


def variables_in(text: str) -> list[str]:
    return [match.group(1) for match in VARIABLE.finditer(text)]


def render_text(text: str, args: Mapping[str, str], where: str) -> str:
    """Replace every variable; raises InvalidInput naming the unknown ones and `where`."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).removeprefix(ARGS_PREFIX)
        if name not in args:
            missing.append(match.group(1))
            return match.group(0)
        return args[name]

    rendered = VARIABLE.sub(replace, text)
    if missing:
        known = ", ".join(sorted(args)) or "none"
        raise InvalidInput(
            [f"{where}: unknown variable {{{{{name}}}}} (known: {known})" for name in missing],
            "analysis arguments",
        )
    return rendered


def render_data(data: Any, args: Mapping[str, str], where: str) -> Any:
    """Render every string in a JSON-like structure (a model dumped by alias)."""
    if isinstance(data, str):
        return render_text(data, args, where)
    if isinstance(data, list):
        return [render_data(item, args, f"{where}[{i}]") for i, item in enumerate(data)]
    if isinstance(data, dict):
        return {key: render_data(value, args, f"{where}.{key}") for key, value in data.items()}
    return data


def strings_in(data: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every (path, string) in a JSON-like structure, to check variables at validation time."""
    if isinstance(data, str):
        yield where, data
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from strings_in(item, f"{where}[{i}]")
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from strings_in(value, f"{where}.{key}")
