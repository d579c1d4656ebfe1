"""Reading Rollout documents from YAML or JSON text, with errors that name the field path."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from serinus.core.errors import InvalidInput
from serinus.core.spec_base import MAX_DOCUMENT_DEPTH, MAX_DOCUMENT_NODES, json_data_problem

if TYPE_CHECKING:
    from serinus.core.spec import Rollout

M = TypeVar("M", bound=BaseModel)


def field_path(loc: Sequence[int | str], root: str = "") -> str:
    """`('spec', 'steps', 2, 'setWeight')` -> `spec.steps[2].setWeight`."""
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not isinstance(part, str):  # a mapping key that is not a string
            path += f"[{str(part)[:40]!r}]"
        elif part.startswith("function-") or part in ("list", "dict"):
            continue  # pydantic's internal validator names add nothing for the user
        else:
            path += f".{part}" if path else part
    return path or "(document)"


def validation_problems(error: ValidationError, root: str = "") -> list[str]:
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required field is missing"
        # One line per problem: a multi-line message (a caret under a condition) is joined.
        problems.append(f"{field_path(item['loc'], root)}: {' '.join(message.split())}")
    return problems


def parse_text(text: str | bytes, source: str) -> Any:
    """YAML is a superset of JSON, so one parser reads both; every problem is one line.

    The document must be UTF-8, at most `MAX_DOCUMENT_BYTES`, nested at most `MAX_DEPTH`
    levels, at most `MAX_NODES` values once aliases are expanded (an "aliases bomb" is refused
    before it is built) and plain JSON data (no NaN, binary, sets, non-string keys). Dates stay
    strings, as in JSON and Kubernetes.
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if len(raw) > MAX_DOCUMENT_BYTES:
        size = f"{len(raw) / 1024:.0f} KiB"
        raise InvalidInput([f"(document): too large ({size}; at most 1024 KiB)"], source)
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        message = f"(document): not UTF-8 (invalid byte 0x{byte:02x} at offset {exc.start})"
        raise InvalidInput([message], source) from exc
    try:
        data = _load(decoded)
    except _TooLarge as exc:
        raise InvalidInput([f"(document): {exc}"], source) from exc
    except yaml.YAMLError as exc:
        raise InvalidInput([f"not valid YAML or JSON: {_one_line(exc)}"], source) from exc
    except (ValueError, OverflowError, TypeError) as exc:  # a constructor refusing a scalar
        raise InvalidInput([f"not valid YAML or JSON: {exc}"], source) from exc
    problem = json_data_problem(data, MAX_DEPTH, MAX_NODES)
    if problem is not None:
        raise InvalidInput([problem], source)
    return data


MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_DEPTH = MAX_DOCUMENT_DEPTH
MAX_NODES = MAX_DOCUMENT_NODES
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _TooLarge(Exception):
    pass


# libyaml when it is there (10x faster); the loader's parser and composer are the same either way.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """The safe loader resolving no timestamps (a date is a string, as in JSON)."""

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _load(text: str) -> Any:
    """Parse in three passes, each bounded: nesting (on the event stream, which has no
    recursion, so deep nesting never reaches the recursive composer), then aliases expanded
    (on the node graph, before anything is built from it), then the values themselves."""
    too_deep = f"nested more than {MAX_DEPTH} levels deep"
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _TooLarge(too_deep)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own limit, met first
            raise _TooLarge(too_deep) from exc
        raise
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph that expands to more than `MAX_NODES` values, or has a cycle.

    Sizes are memoised per node, so an aliases bomb costs as much as its text, not as much as
    its expansion.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_NODES:
                raise _TooLarge(f"more than {MAX_NODES} values once aliases are expanded")
        elif key not in sizes:
            if key in open_nodes:
                raise _TooLarge("an alias refers to a node that contains it (a cycle)")
            open_nodes.add(key)
            stack.append((node, True))
            stack += [(child, False) for child in _children(node) if id(child) not in sizes]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _one_line(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem is not None:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        context = f"{exc.context}: " if exc.context else ""
        return f"{context}{exc.problem}{where}"
    return " ".join(str(exc).split())


def validate_model(model: type[M], data: Any, source: str, root: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(validation_problems(exc, root), source) from exc


def load_rollout(text: str | bytes, source: str = "rollout") -> Rollout:
    from serinus.core.spec import Rollout  # spec's sections import this module

    data = parse_text(text, source)
    if not isinstance(data, dict):
        problem = "(document): expected a mapping with apiVersion, kind, metadata, spec"
        raise InvalidInput([problem], source)
    return validate_model(Rollout, data, source)


def dump_rollout(rollout: Rollout) -> str:
    return json.dumps(rollout.model_dump(mode="json", by_alias=True, exclude_none=True))
