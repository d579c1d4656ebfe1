"""The condition language: what it computes, and that it runs nothing but the whitelist."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serinus.core.analysis.expressions import EvaluationError, ExpressionError, parse_condition

NAN = math.nan


@pytest.mark.parametrize(
    ("condition", "result", "expected"),
    [
        ("result[0] >= 0.99", [0.995], True),
        ("result[0] >= 0.99", [0.98], False),
        ("result[-1] == 3", [1, 2, 3], True),
        ("len(result) > 0", [], False),
        ("len(result) == 2", [1, 2], True),
        ("isNaN(result[0])", [NAN], True),
        ("isNaN(result[0])", [1.0], False),
        ("isInf(result[0])", [math.inf], True),
        ("result < 0.05", [0.01], True),  # a one-value result reads as its value
        ("all(result >= 0.9)", [0.95, 0.99], True),
        ("all(result >= 0.9)", [0.95, 0.5], False),
        ("any(result > 10)", [1, 11], True),
        ("any(isNaN(result))", [1, NAN], True),
        ("abs(result[0] - result[1]) < 0.5", [1.0, 1.2], True),
        ("min(result) > 0 and max(result) < 10", [1, 9], True),
        ("min(result[0], result[1]) == 1", [1, 9], True),
        ("sum(result) / len(result) == 5", [1, 9], True),
        ("result[0] * 100 % 7 == 2", [0.3], True),
        ("result[0] ** 2 == 4", [2], True),
        ("-result[0] < 0", [2], True),
        ("not result[0] > 1", [0.5], True),
        ("!isNaN(result[0]) && result[0] > 1", [2], True),
        ("result[0] > 5 || result[1] > 5", [1, 6], True),
        ("result[0] != 1", [2], True),
        ("0 < result[0] < 1", [0.5], True),
        ("0 < result[0] < 1", [1.5], False),
        ("true", [], True),
        ("false or True", [], True),
        ("any([result[0] > 1, result[1] > 1])", [0, 2], True),
        ("result[0] >= 0.99", [NAN], False),  # NaN compares false (the run guards no-data)
    ],
)
def test_evaluates(condition: str, result: list[float], expected: bool) -> None:
    assert parse_condition(condition).evaluate(result) is expected


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ("__import__('os').system('true')", "not allowed"),
        ("__import__('os')", "this call"),
        ("result.__class__", "attribute access"),
        ("result.count(1)", "this call"),
        ("(lambda: 1)()", "this call"),
        ("lambda x: x", "a lambda"),
        ("[x for x in result]", "a comprehension"),
        ("all(x > 1 for x in result)", "a comprehension"),
        ("open('/etc/passwd')", "this call"),
        ("'abc' == 'abc'", "the constant 'abc'"),
        ("os", "the name 'os'"),
        ("result[0:2]", "slicing"),
        ("max(*result)", "unpacking"),
        ("len(result, 2)", "len() with 2 arguments"),
        ("sum(result, start=1)", "this call"),
        ("result[0] if true else 1", "IfExp"),
        ("{1: 2}", "Dict"),
        ("result[0] in result", "the operator In"),
        ("(x := 1)", "NamedExpr"),
        ("1j", "the constant 1j"),
    ],
)
def test_rejects_dangerous_or_unknown_input(condition: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match="not allowed") as caught:
        parse_condition(condition)
    assert reason in str(caught.value)
    assert condition.strip() in str(caught.value)  # the message shows the expression


def test_rejection_points_at_the_offending_node() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_condition("result[0] > 1 and result.real > 0")
    message = str(caught.value)
    assert "at column 19" in message
    pointer_line = message.splitlines()[-1]
    assert pointer_line.index("^") - 2 == 18  # two spaces of indentation, then the column


@pytest.mark.parametrize(
    ("condition", "column"),
    [
        ("result[0] >= ", 13),  # ends too early: points past the end
        ("result[0] ==== 1", 13),
        ("1 < 2 && (3", 10),  # `&&` is rewritten; positions still refer to what was written
        ("result[0 > 1", 7),
    ],
)
def test_syntax_errors_name_the_column(condition: str, column: int) -> None:
    with pytest.raises(ExpressionError, match=f"syntax error at column {column}") as caught:
        parse_condition(condition)
    lines = str(caught.value).splitlines()
    assert lines[-2].strip() == condition.strip()
    assert lines[-1].index("^") - 2 == column - 1


@pytest.mark.parametrize("condition", ["", "   ", "a" * 1001, "result[0] > 1\nor true"])
def test_empty_huge_or_multiline_conditions_are_rejected(condition: str) -> None:
    with pytest.raises(ExpressionError):
        parse_condition(condition)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(ExpressionError):
        parse_condition("-" * 990 + "1 > 0")


@pytest.mark.parametrize(
    ("condition", "result", "message"),
    [
        ("result[0] > 0", [], "index 0 is out of range: the list has 0 values"),
        ("result > 0", [1, 2], "gives 2 values, not one; use all(...) or any(...)"),
        ("result > 0", [], "gives 0 values"),
        ("result[0]", [1], "gives the number 1.0, not true or false"),
        ("result[0] / 0 > 1", [1], "division by zero"),
        ("result[0.5] > 1", [1], "not a whole number"),
        ("max(result) > 1", [], "max() of an empty list"),
        ("result[0] ** 1000000 > 1", [10], "Numerical result out of range"),
        ("result + result[0:0] > 1", [1], None),
    ],
)
def test_evaluation_errors_show_the_condition(
    condition: str, result: list[float], message: str | None
) -> None:
    try:
        compiled = parse_condition(condition)
    except ExpressionError:
        assert message is None  # the slicing case is refused earlier, at validation time
        return
    with pytest.raises(EvaluationError) as caught:
        compiled.evaluate(result)
    assert message is not None and message in str(caught.value)
    assert condition in str(caught.value)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=20))
def test_guarded_conditions_never_raise_on_any_result(values: list[float]) -> None:
    guarded = parse_condition("len(result) > 0 and all(isNaN(result) == false)")
    assert guarded.evaluate(values) == (bool(values) and not any(map(math.isnan, values)))
