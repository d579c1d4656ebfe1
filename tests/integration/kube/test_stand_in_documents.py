"""The stand-in's patch and selector semantics (RFC 7386, RFC 6902, label selectors)."""

from __future__ import annotations

from typing import Any

import pytest
from kube_stand_in.kube_documents import (
    PatchError,
    json_patch,
    label_selector_matches,
    merge_patch,
)


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        (
            {"a": 1, "b": {"c": 2, "d": 3}},
            {"b": {"c": None, "e": 4}},
            {"a": 1, "b": {"d": 3, "e": 4}},
        ),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": 1}, {"a": {"b": 1}}, {"a": {"b": 1}}),
        ({}, {"a": None}, {}),
    ],
)
def test_merge_patch(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([{"op": "add", "path": "/l/-", "value": 3}], {"l": [1, 2, 3], "m": {"k": "v"}}),
        ([{"op": "add", "path": "/l/0", "value": 0}], {"l": [0, 1, 2], "m": {"k": "v"}}),
        ([{"op": "remove", "path": "/m/k"}], {"l": [1, 2], "m": {}}),
        ([{"op": "replace", "path": "/l/1", "value": 9}], {"l": [1, 9], "m": {"k": "v"}}),
        ([{"op": "move", "from": "/m/k", "path": "/x"}], {"l": [1, 2], "m": {}, "x": "v"}),
        ([{"op": "copy", "from": "/l", "path": "/c"}], {"l": [1, 2], "m": {"k": "v"}, "c": [1, 2]}),
        ([{"op": "test", "path": "/m/k", "value": "v"}], {"l": [1, 2], "m": {"k": "v"}}),
        ([{"op": "add", "path": "/m/a~1b", "value": 1}], {"l": [1, 2], "m": {"k": "v", "a/b": 1}}),
    ],
)
def test_json_patch(ops: list[Any], expected: Any) -> None:
    original = {"l": [1, 2], "m": {"k": "v"}}
    assert json_patch(original, ops) == expected
    assert original == {"l": [1, 2], "m": {"k": "v"}}


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/m/k", "value": "w"}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "nope", "path": "/m"}],
        {"op": "add"},
    ],
)
def test_bad_json_patches_raise(ops: Any) -> None:
    with pytest.raises(PatchError):
        json_patch({"m": {"k": "v"}}, ops)


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("app=web", True),
        ("app==web,tier!=db", True),
        ("app=api", False),
        ("env in (prod, staging)", True),
        ("env notin (prod)", False),
        ("app,!legacy", True),
        ("legacy", False),
        ("", True),
    ],
)
def test_label_selectors(selector: str, matches: bool) -> None:
    assert label_selector_matches(selector, {"app": "web", "env": "prod"}) is matches
