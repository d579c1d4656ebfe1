"""The guard every router applies before a weight write: no weight on a color with nothing ready.

"Ready" is what the platform last reported through `sync_endpoints`: a color never synced, or
synced with an empty list (torn down), has nothing ready. Routers that route to Services
(Istio, Gateway API, NGINX) keep only these counts; HAProxy keeps its own slots and uses
`refuse_unready` with the same wording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from serinus.adapters.routers.inputs import parse_color
from serinus.core.errors import RouterError
from serinus.core.status import COLORS, Color, Endpoint


def refuse_unready(weights: Mapping[Color, int], ready: Mapping[Color, int], router: str) -> None:
    """RouterError (before anything is written) when a color would get weight with 0 ready."""
    empty = [c for c in COLORS if weights.get(c, 0) > 0 and ready.get(c, 0) == 0]
    if empty:
        wanted = ", ".join(f"{weights[c]}% to {c}" for c in empty)
        raise RouterError(
            f"cannot send {wanted}: {router} has no ready {' or '.join(empty)} endpoint "
            "(the platform reports none ready)"
        )


class ReadyEndpoints:
    """How many ready endpoints each color has, as last synced."""

    def __init__(self) -> None:
        self._ready: dict[Color, int] = dict.fromkeys(COLORS, 0)

    def sync(self, color: Color, endpoints: Sequence[Endpoint]) -> None:
        self._ready[parse_color(color)] = sum(1 for endpoint in endpoints if endpoint.ready)

    def count(self, color: Color) -> int:
        return self._ready[color]

    def require(self, weights: Mapping[Color, int], router: str) -> None:
        refuse_unready(weights, self._ready, router)
