"""Reading spec documents: hostile text gets one line naming the problem, never a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from serinus.core.analysis.spec import AnalysisTemplate
from serinus.core.documents import MAX_DOCUMENT_BYTES, MAX_NODES, parse_text
from serinus.core.errors import InvalidInput
from serinus.core.spec import Rollout, load_document
from serinus.core.spec_base import free_form

ROLLOUT: dict[str, Any] = {
    "apiVersion": "serinus.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web"},
    "spec": {
        "version": "v2",
        "workload": {"process": {"command": ["app", "{port}"]}},
        "trafficRouting": {"haproxy": {}},
        "strategy": {"canary": {"steps": [{"setWeight": 10}]}},
    },
}

BOMB = b"""a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
"""


def problem(text: str | bytes) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_text(text, "t")
    assert len(caught.value.problems) == 1
    line = caught.value.problems[0]
    assert "\n" not in line
    return line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"spec: \xff\xfe", "not UTF-8 (invalid byte 0xff at offset 6)"),
        (b"[" * 200_000, "nested more than 64 levels deep"),
        (b"{a: " * 100 + b"1" + b"}" * 100, "nested more than 64 levels deep"),
        (BOMB, f"more than {MAX_NODES} values once aliases are expanded"),
        (b"&a [*a]", "an alias refers to a node that contains it (a cycle)"),
        (b"x: " + b"a" * MAX_DOCUMENT_BYTES, "too large (1024 KiB; at most 1024 KiB)"),
        (b"x: .nan", "x: nan is not a finite number"),
        (b"x: {y: [-.inf]}", "x.y[0]: -inf is not a finite number"),
        (b"x: 1" + b"0" * 30, "x: integer out of range (64-bit)"),
        (b"x: 1" + b"0" * 5000, "not valid YAML or JSON: Exceeds the limit"),
        (b'x: "a\\0b"', "x: contains a NUL character"),
        (b"\x00", "unacceptable character #x0000"),
        (b"x: !!binary aGk=", "x: bytes values are not supported"),
        (b"x: !!set {a}", "x: set values are not supported"),
        (b"{1: a}", "mapping key '1' is not a string"),
        (b"? [a]\n: b", "found unhashable key (line 1, column 3)"),
        (b"a: 1\n---\nb: 2", "expected a single document in the stream"),
        (b"a: [1, 2", "while parsing a flow sequence"),
        (b"x: !!timestamp 2020-13-45", "not valid YAML or JSON: month must be in 1..12"),
        (b"x: !!python/object:os.system x", "could not determine a constructor"),
    ],
)
def test_hostile_text_gets_one_line(text: bytes, expected: str) -> None:
    assert expected in problem(text)


def test_plain_text_still_parses_and_dates_stay_strings() -> None:
    assert parse_text(b"\xef\xbb\xbfa: 2020-01-02\nb: [1, 2.5, yes, null]", "t") == {
        "a": "2020-01-02",
        "b": [1, 2.5, True, None],
    }
    assert parse_text(json.dumps(ROLLOUT), "t") == ROLLOUT
    assert parse_text("", "t") is None


def test_a_document_at_the_size_limit_is_read() -> None:
    text = b"x: " + b"a" * (MAX_DOCUMENT_BYTES - 3)
    assert len(parse_text(text, "t")["x"]) == MAX_DOCUMENT_BYTES - 3


def test_load_document_chooses_by_kind() -> None:
    assert isinstance(load_document(json.dumps(ROLLOUT).encode(), "r"), Rollout)
    template = {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "t"},
        "spec": {
            "metrics": [
                {
                    "name": "m",
                    "successCondition": "result[0] > 0",
                    "provider": {"web": {"url": "http://x/"}},
                }
            ]
        },
    }
    assert isinstance(load_document(json.dumps(template), "t"), AnalysisTemplate)
    with pytest.raises(InvalidInput, match="expected a mapping"):
        load_document(b"[1]", "r")


def test_documents_from_elsewhere_get_the_same_data_rules() -> None:
    # The operator validates objects read from the API server, not text: same limits.
    bad = {**ROLLOUT, "spec": {**ROLLOUT["spec"], "x": float("nan")}}
    with pytest.raises(ValueError, match=r"spec\.x: nan is not a finite number"):
        Rollout.model_validate(bad)
    deep: Any = 1
    for _ in range(70):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than 64 levels deep"):
        Rollout.model_validate({**ROLLOUT, "spec": {**ROLLOUT["spec"], "x": deep}})


def test_free_form_sections_are_plain_bounded_data() -> None:
    assert free_form({"a": [1, "b", {"c": None}]}) == {"a": [1, "b", {"c": None}]}
    with pytest.raises(ValueError, match=r"a\[0\]: inf is not a finite number"):
        free_form({"a": [float("inf")]})
    deep: Any = {}
    for _ in range(40):
        deep = {"x": deep}
    with pytest.raises(ValueError, match="nested more than 32 levels deep"):
        free_form(deep)
