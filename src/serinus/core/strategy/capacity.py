"""The one rule behind every weight write: traffic goes only where ready capacity is.

A color may carry at most the share of the traffic that its ready replicas (of the version the
status wants there) are of the full service: 1 of 3 ready carries at most 33%. What the desired
weights ask beyond that stays on the colors that have ready capacity, so an abort, a revert or a
supersede that wants 100% on a color with nothing ready first leaves the traffic where it is
served and moves it as the replicas become ready (a reverse rolling update). When no color has
anything ready there is nothing to move traffic to, and the router is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from serinus.core.status import COLORS, Color, Observed, RolloutStatus
from serinus.core.weights import apportion

_EPSILON = 1e-9


def ready_of(status: RolloutStatus, observed: Observed, color: Color) -> int:
    """Ready replicas on `color` of a version the status lets serve there: the one it wants, or
    one it is draining before removing it (a superseded or dropped canary); else 0."""
    state = observed.color(color)
    serving = {t.version for t in status.teardowns if t.color == color}
    if (version := status.version_of(color)) is not None:
        serving.add(version)
    return state.ready if state.version in serving else 0


def routable(
    desired: Mapping[Color, int], ready: Mapping[Color, int], full: int
) -> dict[Color, int] | None:
    """The weights closest to `desired` that respect ready capacity; None when nothing is ready."""
    if not any(ready.get(color, 0) > 0 for color in COLORS):
        return None
    size = max(full, 1)
    caps = {c: min(100.0, 100.0 * ready.get(c, 0) / size) for c in COLORS}
    shares = {c: min(float(desired.get(c, 0)), caps[c]) for c in COLORS}
    deficit = 100.0 - sum(shares.values())
    spare = {c: caps[c] - shares[c] for c in COLORS}
    total_spare = sum(spare.values())
    if deficit > _EPSILON and total_spare > _EPSILON:
        given = min(deficit, total_spare)
        for color in COLORS:
            shares[color] += given * spare[color] / total_spare
        deficit -= given
    if deficit > _EPSILON:  # not enough ready anywhere: spread by what is ready
        total_ready = sum(ready.get(c, 0) for c in COLORS)
        for color in COLORS:
            shares[color] += deficit * ready.get(color, 0) / total_ready
    return dict(zip(COLORS, apportion([shares[c] for c in COLORS]), strict=True))


def complete(weights: Mapping[Color, int]) -> dict[Color, int]:
    return {color: weights.get(color, 0) for color in COLORS}


def target_weights(status: RolloutStatus, observed: Observed, full: int) -> dict[Color, int] | None:
    """What the router should hold after this reconcile, None when it should be left alone."""
    if not status.weights:
        return None
    ready = {color: ready_of(status, observed, color) for color in COLORS}
    return routable(complete(status.weights), ready, full)


def in_force(status: RolloutStatus, observed: Observed, full: int) -> dict[Color, int]:
    """The weights the router holds once this reconcile's write (if any) is done."""
    target = target_weights(status, observed, full)
    if target is not None:
        return target
    return complete(observed.weights or {})
