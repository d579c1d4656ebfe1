"""The JSONPath subset of the web provider."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.core.analysis.jsonpath import JsonPathError, select

DOCUMENT: dict[str, Any] = {
    "data": {"ok": True, "rate": 0.99, "series": [{"v": 1}, {"v": 2}], "odd-key": 5},
    "list": [10, 20, 30],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", [DOCUMENT]),
        ("$.data.rate", [0.99]),
        ("{$.data.ok}", [True]),
        ("$['data']['rate']", [0.99]),
        ('$["data"].odd-key', [5]),
        ("$.list[0]", [10]),
        ("$.list[-1]", [30]),
        ("$.list[*]", [10, 20, 30]),
        ("$.data.series[*].v", [1, 2]),
        ("$.data.series.*.v", [1, 2]),
        ("$.data.series[*].nothing", None),
    ],
)
def test_selects(path: str, expected: list[Any] | None) -> None:
    if expected is None:
        with pytest.raises(JsonPathError):
            select(DOCUMENT, path)
    else:
        assert select(DOCUMENT, path) == expected


def test_a_wildcard_over_an_empty_list_is_an_empty_result() -> None:
    assert select({"items": []}, "$.items[*]") == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$.data.missing", "$.data.missing selects nothing: no key 'missing'"),
        ("$.list[7]", "$.list[7] selects nothing: no index [7]"),
        ("$.list.name", "$.list.name selects nothing: no key 'name'"),
        ("$.data.rate[*]", "$.data.rate[*] selects nothing: [*] of a single value"),
    ],
)
def test_a_path_that_selects_nothing_is_an_error_as_in_argo(path: str, message: str) -> None:
    with pytest.raises(JsonPathError) as caught:
        select(DOCUMENT, path)
    assert str(caught.value) == message
    assert "0.99" not in str(caught.value)  # names the path, never the document


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("data.rate", "starts with $"),
        ("$..rate", "recursive descent"),
        ("$.list[?(@ > 1)]", "unsupported selector"),
        ("$.list[0:2]", "unsupported selector"),
        ("$.list[0", "unclosed ["),
        ("$.", "expected a name"),
        ("$ x", "unexpected ' '"),
    ],
)
def test_rejects_what_it_does_not_support(path: str, message: str) -> None:
    with pytest.raises(JsonPathError) as caught:
        select(DOCUMENT, path)
    assert message in str(caught.value)
