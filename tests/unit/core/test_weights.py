"""Weight math: apportion and shift, by examples, the seed's bug cases and properties."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from serinus.core.weights import apportion, shift, shift_layout

# --- apportion ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantities", "total", "expected"),
    [
        ([1, 1, 1], 100, [34, 33, 33]),  # tie on remainder: earlier entry first
        ([2, 1], 100, [67, 33]),
        ([1, 2], 100, [33, 67]),
        ([0.5, 0.25, 0.25], 100, [50, 25, 25]),
        ([90, 10], 70, [63, 7]),
        ([50, 30], 50, [31, 19]),  # 31.25 / 18.75: the larger remainder gets the unit
        ([0, 0, 0], 100, [34, 33, 33]),  # all zero: even split
        ([0, 0], 0, [0, 0]),
        ([5, 0], 100, [100, 0]),
        ([1e-300, 0], 100, [100, 0]),
        ([], 0, []),
        ([7], 100, [100]),
    ],
)
def test_apportion_examples(quantities: list[float], total: int, expected: list[int]) -> None:
    assert apportion(quantities, total) == expected


@pytest.mark.parametrize(
    ("quantities", "total", "message"),
    [
        ([], 100, "among no quantities"),
        ([1, -1], 100, r"quantities\[1\]"),
        ([1, float("nan")], 100, r"quantities\[1\]"),
        ([float("inf")], 100, r"quantities\[0\]"),
        ([1], -1, "total"),
    ],
)
def test_apportion_rejects_bad_input(quantities: list[float], total: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apportion(quantities, total)


quantity_lists = st.lists(
    st.one_of(st.integers(0, 10_000), st.floats(0, 1e6, allow_nan=False)), min_size=1, max_size=20
)


@given(quantity_lists, st.integers(0, 1000))
def test_apportion_sums_to_total_and_stays_within_one_of_exact_share(
    quantities: list[float], total: int
) -> None:
    result = apportion(quantities, total)
    assert sum(result) == total
    assert all(isinstance(value, int) and value >= 0 for value in result)
    whole = sum(Fraction(q) for q in quantities)
    for quantity, value in zip(quantities, result, strict=True):
        exact = (
            Fraction(total, len(quantities)) if whole == 0 else Fraction(quantity) * total / whole
        )
        assert abs(value - exact) < 1


# --- shift: examples -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "target", "percentage", "expected"),
    [
        ([90, 10], 1, 30, [70, 30]),
        ([90, 10], 1, 100, [0, 100]),
        ([90, 10], 1, 0, [100]),  # removed
        ([100], None, 10, [90, 10]),  # appended
        ([100], None, 0, [100]),
        ([50, 30, 20], 2, 50, [31, 19, 50]),
        ([0, 100], 1, 40, [60, 40]),  # the only other has 0: it gets the rest
        ([0, 0, 100], 2, 10, [45, 45, 10]),  # others all zero: shared evenly
        ([0, 0, 0, 100], 3, 0, [34, 33, 33]),
        ([1, 1, 1], None, 1, [33, 33, 33, 1]),
        ([100], 0, 100, [100]),
        ([], None, 100, [100]),
        ([3, 1], 0, 60, [60, 40]),  # weights need not sum to 100
        ([200, 200], None, 20, [40, 40, 20]),
    ],
)
def test_shift_examples(
    weights: list[int], target: int | None, percentage: int, expected: list[int]
) -> None:
    assert shift(weights, target, percentage) == expected


@pytest.mark.parametrize(
    ("weights", "target", "percentage", "message"),
    [
        ([100], None, 101, "percentage"),
        ([100], None, -1, "percentage"),
        ([100], 0, 50, "percentage 50 leaves 50"),
        ([100], 0, 0, "percentage 0 leaves 100"),
        ([], None, 10, "percentage 10 leaves 90"),
        ([50, 50], 2, 10, "target"),
        ([50, 50], -1, 10, "target"),
        ([50, -1], None, 10, r"weights\[1\]"),
    ],
)
def test_shift_rejects_bad_input(
    weights: list[int], target: int | None, percentage: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        shift(weights, target, percentage)


def test_shift_layout_names_the_source_of_each_result_entry() -> None:
    assert shift_layout(3, 1, 40) == [0, 1, 2]
    assert shift_layout(3, 1, 0) == [0, 2]
    assert shift_layout(2, None, 10) == [0, 1, None]
    assert shift_layout(2, None, 0) == [0, 1]


# --- the seed's bugs --------------------------------------------------------------------------


def seed_shift(weights: list[int], target: int | None, percentage: int) -> list[int]:
    """The seed's Go shifter, transcribed (int32 arithmetic, the target removed first)."""
    previous = weights[target] if target is not None else 0
    route = [w for i, w in enumerate(weights) if i != target]
    if previous == 100:
        route = [(100 - percentage) // len(route) for _ in route]
    else:
        route = [w * ((100 - percentage) // (100 - previous)) for w in route]
    total = sum(route)
    for i in range(len(route)):  # the fix-up: one pass, at most +1 per destination
        if total == 100 - percentage:
            break
        route[i] += 1
        total += 1
    return [*route, percentage] if percentage > 0 else route


@pytest.mark.parametrize(
    ("weights", "target", "percentage", "expected"),
    [
        # first canary step: (100-10)//(100-0) == 0 wipes the stable weight, fix-up adds 1
        ([100], None, 10, [90, 10]),
        # three stable destinations: each truncated to 0, the one fix-up pass restores 3 of 90
        ([40, 30, 30], None, 10, [36, 27, 27, 10]),
        # raising the canary 10 -> 100 is fine in the seed; 10 -> 50 truncates 90*(50//90)=0
        ([90, 10], 1, 50, [50, 50]),
        # lowering the canary 50 -> 20: (80//50)=1 keeps 50, then +1 once: 51, not 80
        ([50, 50], 1, 20, [80, 20]),
        # rollback from 30% with two stable destinations: 100//70 == 1, fix-up: 61 + 11 = 72
        ([60, 10, 30], 2, 0, [86, 14]),
    ],
)
def test_seed_bug_cases_are_right_here(
    weights: list[int], target: int | None, percentage: int, expected: list[int]
) -> None:
    seed = seed_shift(weights, target, percentage)
    assert sum(seed) != 100 or seed != expected  # the seed got this case wrong
    result = shift(weights, target, percentage)
    assert result == expected
    assert sum(result) == 100


# --- shift: properties ------------------------------------------------------------------------


@st.composite
def shift_cases(draw: st.DrawFn) -> tuple[list[int], int | None, int]:
    """A route of 1..20 destinations (weights summing to 100 or arbitrary), a target, a P."""
    count = draw(st.integers(1, 20))
    if draw(st.booleans()):
        cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=count - 1, max_size=count - 1)))
        weights = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    else:
        weights = draw(st.lists(st.integers(0, 1000), min_size=count, max_size=count))
    target = draw(st.one_of(st.none(), st.integers(0, count - 1)))
    others = count - (target is not None)
    percentage = draw(st.integers(0, 100) if others else st.just(100))
    return weights, target, percentage


def target_index(result: list[int], target: int | None, percentage: int) -> int | None:
    if percentage == 0:
        return None
    return len(result) - 1 if target is None else target


@given(shift_cases())
@example(([100], None, 10))
@example(([0, 0, 0, 100], 3, 0))
def test_shift_sums_to_100_with_non_negative_ints(case: tuple[list[int], int | None, int]) -> None:
    result = shift(*case)
    assert sum(result) == 100
    assert all(isinstance(value, int) and 0 <= value <= 100 for value in result)


@given(shift_cases())
def test_shift_gives_the_target_exactly_p_and_removes_it_at_0(
    case: tuple[list[int], int | None, int],
) -> None:
    weights, target, percentage = case
    result = shift(weights, target, percentage)
    layout = shift_layout(len(weights), target, percentage)
    assert len(result) == len(layout)
    if percentage == 0:
        assert target not in layout
        assert len(result) == len(weights) - (target is not None)
    else:
        index = target_index(result, target, percentage)
        assert index is not None
        assert result[index] == percentage
        assert layout[index] == target


@given(shift_cases())
def test_shift_shares_the_rest_in_proportion_or_evenly(
    case: tuple[list[int], int | None, int],
) -> None:
    weights, target, percentage = case
    result = shift(weights, target, percentage)
    layout = shift_layout(len(weights), target, percentage)
    others = [
        (source, value)
        for source, value in zip(layout, result, strict=True)
        if source is not None and source != target
    ]
    old = sum(weights[source] for source, _ in others)
    rest = 100 - percentage
    for source, value in others:
        assert source is not None
        exact = Fraction(rest, len(others)) if old == 0 else Fraction(weights[source] * rest, old)
        assert abs(value - exact) < 1


@given(shift_cases())
def test_shift_is_idempotent(case: tuple[list[int], int | None, int]) -> None:
    weights, target, percentage = case
    once = shift(weights, target, percentage)
    twice = shift(once, target_index(once, target, percentage), percentage)
    assert twice == once


@given(st.integers(1, 20), st.integers(0, 100))
def test_shift_shares_evenly_when_the_others_are_all_zero(count: int, percentage: int) -> None:
    result = shift([0] * count, None, percentage)
    others = result[:-1] if percentage else result
    assert len(others) == count
    assert max(others) - min(others) <= 1
    assert others == sorted(others, reverse=True)  # the remainder went to earlier entries
