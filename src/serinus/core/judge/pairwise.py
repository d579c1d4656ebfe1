"""Order statistics of the pairwise differences canary[i] - baseline[j], without building them.

The Hodges-Lehmann shift estimate and the Mann-Whitney confidence interval are order statistics of
the m*n pairwise differences; with 10,000 samples per side that is 10^8 numbers (800 MB). Here the
k-th smallest is found by a selection over the implicit sorted matrix: row i holds
`canary[i] + (-baseline)` in ascending order, a pivot is the weighted median of the row medians of
the remaining candidates (so each round drops at least a quarter of them), and each round counts the
elements below the pivot with a binary search per row: O(m log n) per round, O(log(mn)) rounds.
Once few candidates remain they are materialised and partitioned.

Counting uses the very floating-point sums `fl(canary[i] - baseline[j])` that a direct computation
would produce, so the answer equals `np.sort(all differences)[k - 1]` bit for bit.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Below this many candidates it is cheaper to materialise them than to keep narrowing.
_MATERIALISE_AT = 1 << 16


class PairwiseDifferences:
    """The m*n differences canary[i] - baseline[j] of two samples, queried by rank."""

    def __init__(self, canary: FloatArray, baseline: FloatArray) -> None:
        if canary.size == 0 or baseline.size == 0:
            raise ValueError("pairwise differences need at least one value on each side")
        self._rows = np.sort(np.asarray(canary, dtype=np.float64))
        # Row i is rows[i] + cols[j]: ascending in j because cols is ascending.
        self._cols = np.sort(-np.asarray(baseline, dtype=np.float64))
        self.count = int(self._rows.size) * int(self._cols.size)

    def kth_smallest(self, k: int) -> float:
        """The k-th smallest difference, k counted from 1."""
        if not 1 <= k <= self.count:
            raise ValueError(f"rank {k} is outside 1..{self.count}")
        rows, cols = self._rows, self._cols
        m, n = rows.size, cols.size
        low = np.zeros(m, dtype=np.int64)  # row elements before `low` are below the answer
        high = np.full(m, n, dtype=np.int64)  # row elements from `high` on are above it
        while True:
            sizes = high - low
            total = int(sizes.sum())
            if total <= _MATERIALISE_AT:
                return self._select_among(low, sizes, k - int(low.sum()))
            pivot = self._weighted_median_of_row_medians(low, sizes)
            below = self._count_per_row(pivot, strict=True)
            at_or_below = self._count_per_row(pivot, strict=False)
            if k <= int(below.sum()):
                high = below
            elif k <= int(at_or_below.sum()):
                return pivot
            else:
                low = at_or_below

    def median(self) -> float:
        """The Hodges-Lehmann estimate: the median of all pairwise differences."""
        half = self.count // 2
        if self.count % 2:
            return self.kth_smallest(half + 1)
        return (self.kth_smallest(half) + self.kth_smallest(half + 1)) / 2.0

    def _weighted_median_of_row_medians(self, low: IntArray, sizes: IntArray) -> float:
        live = np.flatnonzero(sizes)
        medians = self._rows[live] + self._cols[low[live] + sizes[live] // 2]
        order = np.argsort(medians, kind="stable")
        weights = np.cumsum(sizes[live][order])
        middle = int(np.searchsorted(weights, weights[-1] / 2.0))
        return float(medians[order[middle]])

    def _count_per_row(self, value: float, strict: bool) -> IntArray:
        """Per row, how many elements are < value (strict) or <= value."""
        rows, cols = self._rows, self._cols
        n = cols.size
        side: Literal["left", "right"] = "left" if strict else "right"
        counts: IntArray = np.searchsorted(cols, value - rows, side=side).astype(np.int64)
        # `value - rows[i]` is rounded, so the binary search can be one off from the comparison on
        # the rounded sums `rows[i] + cols[j]`; rounding is monotone, so a few nudges settle it.
        for _ in range(64):
            ahead = counts < n
            nxt = rows[ahead] + cols[counts[ahead]]
            grow = np.zeros(rows.size, dtype=bool)
            grow[ahead] = (nxt < value) if strict else (nxt <= value)
            behind = counts > 0
            prev = rows[behind] + cols[counts[behind] - 1]
            shrink = np.zeros(rows.size, dtype=bool)
            shrink[behind] = (prev >= value) if strict else (prev > value)
            if not grow.any() and not shrink.any():
                return counts
            counts = counts + grow.astype(np.int64) - shrink.astype(np.int64)
        raise ArithmeticError("pairwise difference counts did not settle")

    def _select_among(self, low: IntArray, sizes: IntArray, rank: int) -> float:
        row_index = np.repeat(np.arange(self._rows.size), sizes)
        starts = np.cumsum(sizes) - sizes
        col_index = np.arange(int(sizes.sum())) - np.repeat(starts, sizes) + np.repeat(low, sizes)
        candidates = self._rows[row_index] + self._cols[col_index]
        return float(np.partition(candidates, rank - 1)[rank - 1])
