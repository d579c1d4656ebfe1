"""A small, safe JSONPath subset for the web provider: select numbers in a JSON document.

Supported: `$` (the document), `.name`, `['name']` or `["name"]`, `[N]` (negative counts from the
end), `[*]` and `.*` (every element or value); an optional kubectl-style `{...}` around it, as
Argo Rollouts' web provider writes it (`{$.data.ok}`). Filters, scripts, slices and recursive
descent are deliberately out: a path is data, never code. A dependency (jsonpath-ng) would add
those features and a parser generator for no need we have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INDEX = re.compile(r"-?\d+")


class JsonPathError(ValueError):
    pass


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Index:
    position: int


@dataclass(frozen=True)
class Wildcard:
    pass


Segment = Key | Index | Wildcard


def _fail(path: str, position: int, what: str) -> JsonPathError:
    return JsonPathError(f"{what} at column {position + 1} of {path!r}")


def parse_json_path(path: str) -> tuple[Segment, ...]:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if not text.startswith("$"):
        raise JsonPathError(f"a JSONPath starts with $ (got {path!r})")
    segments: list[Segment] = []
    i = 1
    while i < len(text):
        if text.startswith("..", i):
            raise _fail(text, i, "recursive descent (..) is not supported")
        if text[i] == ".":
            if text.startswith("*", i + 1):
                segments.append(Wildcard())
                i += 2
                continue
            match = _NAME.match(text, i + 1)
            if match is None:
                raise _fail(text, i + 1, "expected a name")
            segments.append(Key(match.group(0)))
            i = match.end()
        elif text[i] == "[":
            close = text.find("]", i)
            if close < 0:
                raise _fail(text, i, "unclosed [")
            inner = text[i + 1 : close].strip()
            if inner == "*":
                segments.append(Wildcard())
            elif _INDEX.fullmatch(inner):
                segments.append(Index(int(inner)))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                segments.append(Key(inner[1:-1]))
            else:
                raise _fail(text, i, f"unsupported selector [{inner}]")
            i = close + 1
        else:
            raise _fail(text, i, f"unexpected {text[i]!r}")
    return tuple(segments)


def _describe(segment: Segment) -> str:
    match segment:
        case Key(name):
            return f"key {name!r}"
        case Index(position):
            return f"index [{position}]"
    return "[*]"


def select(document: Any, path: str) -> list[Any]:
    """Every value the path selects.

    A key or index that is not there selects nothing, which is an error (JsonPathError naming the
    segment of the path, never the document), as in Argo Rollouts' web provider. A wildcard over
    an empty list or object selects no values, which is a valid, empty result.
    """
    current: list[Any] = [document]
    for segment in parse_json_path(path):
        following: list[Any] = []
        for node in current:
            match segment:
                case Key(name) if isinstance(node, dict) and name in node:
                    following.append(node[name])
                case Index(position) if isinstance(node, list) and (
                    -len(node) <= position < len(node)
                ):
                    following.append(node[position])
                case Wildcard() if isinstance(node, list):
                    following.extend(node)
                case Wildcard() if isinstance(node, dict):
                    following.extend(node.values())
                case Wildcard():
                    raise JsonPathError(f"{path} selects nothing: [*] of a single value")
                case _:
                    raise JsonPathError(f"{path} selects nothing: no {_describe(segment)}")
        current = following
    return current
