"""Order statistics of the pairwise differences canary[i] - baseline[j], without building them.

The Hodges-Lehmann shift estimate and the Mann-Whitney confidence interval are order statistics of
the m*n pairwise differences; with 10,000 samples per side that is 10^8 numbers (800 MB). Here the
k-th smallest is found by a selection over the implicit sorted matrix: row i holds
`canary[i] + (-baseline)` in ascending order. Each round draws a random sample of the remaining
candidates and takes two pivots just below and just above where rank k falls in it (Floyd and
Rivest's selection), then counts the elements below each pivot with one binary search per row,
O(m log n): the candidates left between the pivots shrink by a factor of about 30 per round, so
a few rounds suffice, and a round whose pivots are equal has found the answer (a group of tied
differences, such as the zeros of error counts). Once few candidates remain they are materialised
and partitioned. The sample is drawn from a fixed seed: the same input always takes the same path.

Counting uses the very floating-point sums `fl(canary[i] - baseline[j])` that a direct computation
would produce, so the answer equals `np.sort(all differences)[k - 1]` bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Below this many candidates it is cheaper to materialise them than to keep narrowing.
_MATERIALISE_AT = 1 << 18
# Candidates sampled per round to place the pivots, and the pivots' margin in sample ranks.
_SAMPLE = 8192
_MARGIN = 3.0
# A round may fail to narrow (the pivots missed rank k); that many rounds more fall back to a
# weighted median of the row medians, which always drops a quarter of the candidates.
_ROUNDS = 64


class PairwiseDifferences:
    """The m*n differences canary[i] - baseline[j] of two samples, queried by rank."""

    def __init__(self, canary: FloatArray, baseline: FloatArray) -> None:
        if canary.size == 0 or baseline.size == 0:
            raise ValueError("pairwise differences need at least one value on each side")
        self._rows = np.sort(np.asarray(canary, dtype=np.float64))
        # Row i is rows[i] + cols[j]: ascending in j because cols is ascending.
        self._cols = np.sort(-np.asarray(baseline, dtype=np.float64))
        self.count = int(self._rows.size) * int(self._cols.size)

    @classmethod
    def from_sorted(cls, canary: FloatArray, baseline: FloatArray) -> PairwiseDifferences:
        """The same, from samples already sorted ascending (no sorting again)."""
        differences = cls.__new__(cls)
        differences._rows = canary
        differences._cols = -baseline[::-1]
        differences.count = int(canary.size) * int(baseline.size)
        if differences.count == 0:
            raise ValueError("pairwise differences need at least one value on each side")
        return differences

    def kth_smallest(self, k: int) -> float:
        """The k-th smallest difference, k counted from 1."""
        return self._select(k, pair=False)[0]

    def median(self) -> float:
        """The Hodges-Lehmann estimate: the median of all pairwise differences."""
        half = self.count // 2
        if self.count % 2:
            return self.kth_smallest(half + 1)
        below, above = self._select(half, pair=True)
        return (below + above) / 2.0

    def _select(self, k: int, pair: bool) -> tuple[float, float]:
        """The k-th smallest difference and, with `pair`, the (k+1)-th (else the k-th again)."""
        if not 1 <= k <= self.count - (1 if pair else 0):
            raise ValueError(f"rank {k} is outside 1..{self.count}")
        m, n = self._rows.size, self._cols.size
        low = np.zeros(m, dtype=np.int64)  # row elements before `low` are below the answer
        high = np.full(m, n, dtype=np.int64)  # row elements from `high` on are above it
        rng = np.random.default_rng(k)
        for round_ in range(_ROUNDS):
            sizes = high - low
            total = int(sizes.sum())
            below = int(low.sum())
            if total <= _MATERIALISE_AT:
                return self._select_among(low, sizes, k - below, pair)
            if round_ % 2 == 0:
                first, last = self._sampled_pivots(low, sizes, total, (k - below) / total, rng)
            else:  # guaranteed progress even when the sample misleads
                first = last = self._weighted_median_of_row_medians(low, sizes)
            lt_first = self._count_per_row(first, strict=True)
            le_last = self._count_per_row(last, strict=False)
            if k <= int(lt_first.sum()):
                high = np.minimum(high, lt_first)
            elif k > int(le_last.sum()):
                low = np.maximum(low, le_last)
            elif first == last:  # every candidate left between the pivots equals them
                if not pair or k + 1 <= int(le_last.sum()):
                    return first, first
                return first, self._smallest_from(le_last)
            else:
                low, high = np.maximum(low, lt_first), np.minimum(high, le_last)
        raise ArithmeticError("the pairwise-difference selection did not converge")

    def _sampled_pivots(
        self,
        low: IntArray,
        sizes: IntArray,
        total: int,
        fraction: float,
        rng: np.random.Generator,
    ) -> tuple[float, float]:
        picks = rng.integers(0, total, _SAMPLE)
        ends = np.cumsum(sizes)
        rows = np.searchsorted(ends, picks, side="right")
        cols = low[rows] + picks - (ends[rows] - sizes[rows])
        sample = np.sort(self._rows[rows] + self._cols[cols])
        spread = _MARGIN * np.sqrt(_SAMPLE * fraction * (1.0 - fraction) + 1.0)
        at = fraction * _SAMPLE
        first = int(np.clip(np.floor(at - spread), 0, _SAMPLE - 1))
        last = int(np.clip(np.ceil(at + spread), 0, _SAMPLE - 1))
        return float(sample[first]), float(sample[last])

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
        # ascending needles let the binary searches share work: rows reversed, then back
        needles = value - rows[::-1]
        guess: IntArray = np.searchsorted(cols, needles, side=side)[::-1].astype(np.int64)

        def holds(i: IntArray, j: IntArray) -> npt.NDArray[np.bool_]:
            total = rows[i] + cols[j]
            return (total < value) if strict else (total <= value)

        # `value - rows[i]` is rounded, so the binary search can be off from the comparison on
        # the rounded sums `rows[i] + cols[j]` (by a whole group of tied values, at worst).
        # The comparison is monotone in j, so each row that is off is settled by a binary
        # search between its guess and the nearest index where the comparison agrees.
        i = np.arange(rows.size)
        ahead = guess < n
        grow = np.zeros(rows.size, dtype=bool)
        grow[ahead] = holds(i[ahead], guess[ahead])
        behind = guess > 0
        shrink = np.zeros(rows.size, dtype=bool)
        shrink[behind] = ~holds(i[behind], guess[behind] - 1)
        counts = guess.copy()
        for off, up in ((np.flatnonzero(grow), True), (np.flatnonzero(shrink), False)):
            if off.size:
                counts[off] = self._settle(off, guess[off], up, holds)
        return counts

    def _settle(
        self,
        off: IntArray,
        guess: IntArray,
        up: bool,
        holds: Callable[[IntArray, IntArray], npt.NDArray[np.bool_]],
    ) -> IntArray:
        """The count of the rows `off`: the first index j > guess (up) or < guess (down) where
        the comparison stops holding, bisected for all those rows at once."""
        n = self._cols.size
        if up:  # holds at guess: the answer is in (guess, n]
            low, high = guess + 1, np.full(off.size, n, dtype=np.int64)
        else:  # fails at guess - 1: the answer is in [0, guess - 1]
            low, high = np.zeros(off.size, dtype=np.int64), guess - 1
        # invariant: holds for every index < low, fails for every index >= high
        while True:
            open_ = low < high
            if not open_.any():
                return low
            middle = (low + high) // 2
            ok = np.zeros(off.size, dtype=bool)
            ok[open_] = holds(off[open_], middle[open_])
            low = np.where(open_ & ok, middle + 1, low)
            high = np.where(open_ & ~ok, middle, high)

    def _smallest_from(self, start: IntArray) -> float:
        """The smallest element at or after index `start` of each row."""
        live = start < self._cols.size
        return float(np.min(self._rows[live] + self._cols[start[live]]))

    def _select_among(
        self, low: IntArray, sizes: IntArray, rank: int, pair: bool
    ) -> tuple[float, float]:
        row_index = np.repeat(np.arange(self._rows.size), sizes)
        starts = np.cumsum(sizes) - sizes
        col_index = np.arange(int(sizes.sum())) - np.repeat(starts, sizes) + np.repeat(low, sizes)
        candidates = self._rows[row_index] + self._cols[col_index]
        if not pair:
            kth = float(np.partition(candidates, rank - 1)[rank - 1])
            return kth, kth
        if rank < candidates.size:
            both = np.partition(candidates, (rank - 1, rank))
            return float(both[rank - 1]), float(both[rank])
        kth = float(np.partition(candidates, rank - 1)[rank - 1])
        return kth, self._smallest_from(low + sizes)
