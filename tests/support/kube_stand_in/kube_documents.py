"""Pure document operations the Kubernetes API stand-in applies: patches and selectors.

- `merge_patch`: RFC 7386 JSON merge patch (what `application/merge-patch+json` means);
- `json_patch`: RFC 6902 JSON patch (`application/json-patch+json`);
- `label_selector_matches`: the equality- and set-based label selector syntax of the API.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any


class PatchError(ValueError):
    """A patch that cannot be applied (bad path, failed `test`, wrong shape)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` deletes a key, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 on a copy of `document`; raises PatchError naming the failing operation."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch is a list of operations")
    result = copy.deepcopy(document)
    for index, operation in enumerate(operations):
        try:
            result = _apply(result, operation)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise PatchError(f"operation {index} ({operation!r}): {exc}") from exc
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(document: Any, parts: list[str]) -> tuple[Any, str]:
    node = document
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def _get(document: Any, parts: list[str]) -> Any:
    node = document
    for part in parts:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _add(document: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return copy.deepcopy(value)
    parent, key = _parent(document, parts)
    if isinstance(parent, list):
        index = len(parent) if key == "-" else int(key)
        if not 0 <= index <= len(parent):
            raise IndexError(f"index {index} out of range")
        parent.insert(index, copy.deepcopy(value))
    elif isinstance(parent, dict):
        parent[key] = copy.deepcopy(value)
    else:
        raise TypeError(f"cannot add {key!r} to a {type(parent).__name__}")
    return document


def _remove(document: Any, parts: list[str]) -> tuple[Any, Any]:
    if not parts:
        raise ValueError("cannot remove the whole document")
    parent, key = _parent(document, parts)
    if isinstance(parent, list):
        return document, parent.pop(int(key))
    return document, parent.pop(key)


def _apply(document: Any, operation: Any) -> Any:
    if not isinstance(operation, Mapping) or "op" not in operation or "path" not in operation:
        raise ValueError("an operation needs 'op' and 'path'")
    op, parts = operation["op"], _pointer(str(operation["path"]))
    if op == "add":
        return _add(document, parts, operation["value"])
    if op == "remove":
        return _remove(document, parts)[0]
    if op == "replace":
        _get(document, parts)  # must exist
        document, _ = _remove(document, parts) if parts else (document, None)
        return _add(document, parts, operation["value"])
    if op in ("move", "copy"):
        source = _pointer(str(operation["from"]))
        value = copy.deepcopy(_get(document, source))
        if op == "move":
            document, _ = _remove(document, source)
        return _add(document, parts, value)
    if op == "test":
        if _get(document, parts) != operation.get("value"):
            raise ValueError(f"test failed at {operation['path']}")
        return document
    raise ValueError(f"unknown op {op!r}")


_REQUIREMENT = re.compile(
    r"\s*(?P<neg>!)?(?P<key>[A-Za-z0-9_./-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9_.-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*(?:,|$)"
)


def label_selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    """Whether `labels` satisfy a selector like `app=web,tier!=db,env in (a,b),!legacy`."""
    position = 0
    selector = selector.strip()
    while position < len(selector):
        match = _REQUIREMENT.match(selector, position)
        if match is None or match.end() == position:
            raise ValueError(f"invalid label selector {selector!r} at {position}")
        position = match.end()
        key = match.group("key")
        if match.group("neg"):
            ok = key not in labels
        elif match.group("op") in ("=", "=="):
            ok = labels.get(key) == match.group("value")
        elif match.group("op") == "!=":
            ok = labels.get(key) != match.group("value")
        elif match.group("setop"):
            values = {v.strip() for v in match.group("values").split(",") if v.strip()}
            ok = (
                labels.get(key) in values
                if match.group("setop") == "in"
                else (labels.get(key) not in values)
            )
        else:
            ok = key in labels
        if not ok:
            return False
    return True
