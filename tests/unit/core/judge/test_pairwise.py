"""The k-th pairwise difference equals the direct computation, bit for bit, ties included."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serinus.core.judge import pairwise
from serinus.core.judge.pairwise import PairwiseDifferences


def all_differences(canary: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    return np.sort((canary[:, None] - baseline[None, :]).ravel())


samples = st.lists(
    st.one_of(st.integers(-5, 5).map(float), st.floats(-1e6, 1e6, allow_nan=False)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(canary=samples, baseline=samples, data=st.data())
def test_every_rank_matches_sorting_all_differences(
    canary: list[float], baseline: list[float], data: st.DataObject
) -> None:
    x, y = np.array(canary), np.array(baseline)
    expected = all_differences(x, y)
    differences = PairwiseDifferences(x, y)
    k = data.draw(st.integers(1, expected.size))
    # A tiny materialisation limit forces the narrowing rounds even on small inputs.
    with patch.object(pairwise, "_MATERIALISE_AT", 2):
        assert differences.kth_smallest(k) == expected[k - 1]
        assert differences.median() == np.median(expected)


@pytest.mark.parametrize("seed", range(3))
def test_large_samples_with_heavy_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 7, 700).astype(float)
    y = np.round(rng.normal(3, 2, 650), 1)
    expected = all_differences(x, y)
    differences = PairwiseDifferences(x, y)
    for k in (
        1,
        2,
        1000,
        expected.size // 2,
        expected.size // 2 + 1,
        expected.size - 3,
        expected.size,
    ):
        assert differences.kth_smallest(k) == expected[k - 1]


def test_rank_outside_the_range_is_rejected() -> None:
    differences = PairwiseDifferences(np.array([1.0, 2.0]), np.array([0.0]))
    with pytest.raises(ValueError, match=r"outside 1\.\.2"):
        differences.kth_smallest(3)
    with pytest.raises(ValueError, match="at least one value"):
        PairwiseDifferences(np.array([]), np.array([1.0]))
