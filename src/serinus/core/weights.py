"""Weight math: integer traffic shares that always sum to their total.

Every router (HAProxy, Istio, Gateway API, ...) splits a route's traffic with integer weights
that must sum to 100. Two operations cover all uses:

- `apportion` turns any non-negative quantities into integers summing exactly to a total, by
  largest-remainder rounding (the Hamilton method), so no entry is ever off by more than 1 from
  its exact share;
- `shift` is the seed's "traffic shifter" done right: the target destination gets exactly P%,
  the others share 100-P in proportion to what they had.

The seed's Go code scaled each weight by `(100-p)/(100-prev)` in integer arithmetic (which
truncates to 0 or 1) and then added 1 to at most one pass of destinations, so the sum was
usually not 100. Here exact rational arithmetic decides shares and ties, so results are
deterministic and independent of float rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

FULL = 100


def apportion(quantities: Sequence[float], total: int = FULL) -> list[int]:
    """Integers proportional to `quantities` that sum exactly to `total`.

    Each entry first gets the floor of its exact share `q * total / sum(q)`; the units left over
    go one each to the entries with the largest fractional remainders, ties to the earlier entry.
    If every quantity is 0 the total is split evenly, the remainder again to the earlier entries.

    Raises ValueError for a negative `total`, a negative or non-finite quantity, or an empty
    `quantities` with `total > 0` (there is nothing to give the total to).
    """
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    for index, quantity in enumerate(quantities):
        if not math.isfinite(quantity) or quantity < 0:
            raise ValueError(
                f"quantities[{index}] must be a finite non-negative number, got {quantity}"
            )
    if not quantities:
        if total > 0:
            raise ValueError(f"cannot apportion a total of {total} among no quantities")
        return []

    # Fraction(float) is exact, so equal shares compare equal and ties follow list order.
    exact = [Fraction(quantity) for quantity in quantities]
    whole = sum(exact, Fraction(0))
    shares = (
        [Fraction(total, len(exact))] * len(exact)
        if whole == 0
        else [quantity * total / whole for quantity in exact]
    )
    result = [math.floor(share) for share in shares]
    leftover = total - sum(result)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - result[i]), i))
    for index in by_remainder[:leftover]:
        result[index] += 1
    return result


def shift(weights: Sequence[int], target: int | None, percentage: int) -> list[int]:
    """Give destination `target` exactly `percentage`, the others the rest pro rata.

    `weights` are the current integer weights of a route's destinations, in route order (any
    non-negative integers; normally they sum to 100). `target` is the index of the target
    destination in `weights`, or None when the route does not have it yet.

    Return convention (see `shift_layout` for the same thing as source indices):

    - `percentage > 0`, target present: one weight per destination, same order; the target's
      entry is `percentage`;
    - `percentage > 0`, target missing: the weights of the existing destinations followed by
      one appended entry, `percentage`, for the new target;
    - `percentage == 0`: the target is removed, so the list holds the other destinations'
      weights in order (one shorter than `weights` if the target was present).

    The other destinations share `100 - percentage` in proportion to their current weights
    (largest remainder, ties in list order); if they all have weight 0 they share it evenly.
    The result always sums to 100, and shifting the result again with the same percentage
    returns it unchanged.

    Raises ValueError naming `percentage` if it is outside 0..100, `target` if it is not an
    index of `weights`, `weights` if one is negative, and `percentage` if there is no other
    destination to take the remaining `100 - percentage`.
    """
    if not 0 <= percentage <= FULL:
        raise ValueError(f"percentage must be between 0 and {FULL}, got {percentage}")
    if target is not None and not 0 <= target < len(weights):
        raise ValueError(
            f"target must be an index of weights (0..{len(weights) - 1}), got {target}"
        )
    for index, weight in enumerate(weights):
        if weight < 0:
            raise ValueError(f"weights[{index}] must be >= 0, got {weight}")

    others = [weight for index, weight in enumerate(weights) if index != target]
    if not others and percentage < FULL:
        raise ValueError(
            f"percentage {percentage} leaves {FULL - percentage} for the other destinations, "
            "but there are none"
        )
    rest = apportion(others, FULL - percentage)
    if percentage == 0:
        return rest
    if target is None:
        return [*rest, percentage]
    return [*rest[:target], percentage, *rest[target:]]


def shift_layout(count: int, target: int | None, percentage: int) -> list[int | None]:
    """Where each entry of `shift(weights, target, percentage)` comes from.

    For a route of `count` destinations, returns one item per entry of `shift`'s result: the
    index in `weights` of the destination it belongs to, or None for the appended new target.
    A destination missing from the layout (the target when `percentage == 0`) is removed.
    """
    kept: list[int | None] = [index for index in range(count) if percentage > 0 or index != target]
    if percentage > 0 and target is None:
        kept.append(None)
    return kept
