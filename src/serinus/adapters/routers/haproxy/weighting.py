"""Per-server HAProxy weights that give each color its traffic share, and the way back.

HAProxy balances over servers, not colors, and a server weight is an integer 0..256. A color's
share must hold whatever its number of ready replicas, so the color percentages are scaled by
one common factor `k` and each color's total `share * k` is split evenly over its ready servers.
Choosing `k` as large as the 256 cap allows for the most crowded server keeps every per-server
weight in range while the color totals stay exactly proportional to the shares: the observed
split is exact, not approximately right.
"""

from __future__ import annotations

from collections.abc import Mapping

from serinus.core.status import COLORS, Color
from serinus.core.weights import apportion

MAX_SERVER_WEIGHT = 256


def server_weights(
    shares: Mapping[Color, int], ready: Mapping[Color, int]
) -> dict[Color, list[int]]:
    """Weights for the `ready[color]` ready servers of each color (in slot order).

    `shares` are color percentages summing to 100. A color with a share but no ready server
    cannot take traffic; the other colors then carry everything (their totals stay as computed,
    so their relative split is unchanged). A color at 0% gets weight 0 on all its servers.
    """
    serving = [c for c in COLORS if shares.get(c, 0) > 0 and ready.get(c, 0) > 0]
    if not serving:
        return {color: [0] * ready.get(color, 0) for color in COLORS}
    factor = min(MAX_SERVER_WEIGHT * ready[c] // shares[c] for c in serving)
    result: dict[Color, list[int]] = {}
    for color in COLORS:
        count = ready.get(color, 0)
        total = shares.get(color, 0) * factor if color in serving else 0
        result[color] = apportion([1.0] * count, total) if count else []
    return result


def color_shares(totals: Mapping[Color, int]) -> dict[Color, int]:
    """Color percentages (integers summing to 100) from the summed server weights per color.

    All zeros when no server has any weight: HAProxy then answers 503 to everything, and
    pretending otherwise would hide it.
    """
    quantities = [float(totals.get(color, 0)) for color in COLORS]
    if sum(quantities) == 0:
        return dict.fromkeys(COLORS, 0)
    return dict(zip(COLORS, apportion(quantities), strict=True))
