"""Which server slot each replica occupies.

A replica keeps its slot for as long as it exists, so a server never changes address under live
traffic; a new replica takes a slot that was already free before this change when there is one
(a slot freed just now may still be finishing requests), else any free slot.
"""

from __future__ import annotations

from collections.abc import Sequence

from serinus.adapters.routers.haproxy.state import Slot
from serinus.core.errors import InvalidInput, RouterError
from serinus.core.status import Color, Endpoint


def assign_slots(
    color: Color, current: Sequence[Slot | None], endpoints: Sequence[Endpoint]
) -> tuple[Slot | None, ...]:
    addresses = [(e.host, e.port) for e in endpoints]
    duplicates = sorted({f"{h}:{p}" for h, p in addresses if addresses.count((h, p)) > 1})
    if duplicates:
        raise InvalidInput([f"endpoints: {color} lists {', '.join(duplicates)} more than once"])
    if len(endpoints) > len(current):
        raise RouterError(
            f"{color} has {len(endpoints)} replicas but HAProxy was configured with "
            f"{len(current)} server slots per color; raise the slot count"
        )
    wanted = {(e.host, e.port): e for e in endpoints}
    result: list[Slot | None] = [None] * len(current)
    for index, slot in enumerate(current):
        if slot is not None and (endpoint := wanted.pop((slot.host, slot.port), None)):
            result[index] = Slot(endpoint.host, endpoint.port, endpoint.ready)
    never_used = [i for i, slot in enumerate(current) if slot is None]
    just_freed = [i for i, slot in enumerate(current) if slot is not None and result[i] is None]
    free = iter(never_used + just_freed)
    for endpoint in wanted.values():
        result[next(free)] = Slot(endpoint.host, endpoint.port, endpoint.ready)
    return tuple(result)
