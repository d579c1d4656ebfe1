"""The server table serinus wants, and the ordered runtime commands that reach it safely.

`desired_servers` is a pure function of the router state: in `be_main` each color's ready
replicas share that color's percentage (see `weighting`), replicas that are not ready are
drained with weight 0 and empty slots are in maintenance; `be_blue`/`be_green` (header routes and
preview) give every ready replica of their color the same weight.

`plan` orders the commands so that no request can find every server at weight 0: first every
server whose traffic goes up (raise), then every server whose traffic goes down (lower; a
replica going away gets weight 0 before maintenance), last the rare slot whose address changes
while it still serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from serinus.adapters.routers.haproxy.layout import (
    MAIN_BACKEND,
    color_backend,
    server_name,
)
from serinus.adapters.routers.haproxy.state import RouterState
from serinus.adapters.routers.haproxy.weighting import server_weights
from serinus.core.status import COLORS

Admin = Literal["ready", "drain", "maint"]
ServerKey = tuple[str, str]  # (backend, server)


@dataclass(frozen=True)
class ServerTarget:
    address: tuple[str, int] | None  # None: keep whatever address the slot has
    weight: int
    admin: Admin

    @property
    def effective(self) -> int:
        return self.weight if self.admin == "ready" else 0


@dataclass(frozen=True)
class ServerStatus:
    """One server as `show servers state` reports it."""

    host: str
    port: int
    weight: int
    admin: Admin
    up: bool

    @property
    def effective(self) -> int:
        return self.weight if self.admin == "ready" else 0


def desired_servers(state: RouterState) -> dict[ServerKey, ServerTarget]:
    ready_weights = server_weights(
        state.shares, {color: state.ready_count(color) for color in COLORS}
    )
    table: dict[ServerKey, ServerTarget] = {}
    for color in COLORS:
        weights = iter(ready_weights[color])
        for index, slot in enumerate(state.slots[color]):
            name = server_name(color, index)
            if slot is None:
                main = own = ServerTarget(None, 0, "maint")
            elif slot.ready:
                main = ServerTarget((slot.host, slot.port), next(weights), "ready")
                own = ServerTarget((slot.host, slot.port), 1, "ready")
            else:
                main = own = ServerTarget((slot.host, slot.port), 0, "drain")
            table[(MAIN_BACKEND, name)] = main
            table[(color_backend(color), name)] = own
    return table


def plan(
    actual: Mapping[ServerKey, ServerStatus], desired: Mapping[ServerKey, ServerTarget]
) -> list[str]:
    """Runtime API commands taking `actual` to `desired`, raise before lower."""
    raising: list[str] = []
    lowering: list[str] = []
    readdressing: list[str] = []
    for key in sorted(desired):
        target, now = desired[key], actual[key]
        where = f"{key[0]}/{key[1]}"
        moves = target.address is not None and target.address != (now.host, now.port)
        address = (
            [f"set server {where} addr {target.address[0]} port {target.address[1]}"]
            if target.address is not None and moves
            else []
        )
        weight = (
            [f"set server {where} weight {target.weight}"] if target.weight != now.weight else []
        )
        state = [f"set server {where} state {target.admin}"] if target.admin != now.admin else []
        # The platform vouched for the replica: do not wait for health checks to let it serve.
        health = [f"set server {where} health up"] if state and target.admin == "ready" else []
        if moves and now.effective > 0:
            readdressing += [f"set server {where} state maint", *address]
            readdressing += weight
            if target.admin != "maint":
                readdressing.append(f"set server {where} state {target.admin}")
            if target.admin == "ready":
                readdressing.append(f"set server {where} health up")
        elif target.effective > now.effective:
            raising += [*address, *weight, *state, *health]
        else:
            lowering += [*address, *weight, *state, *health]
    return raising + lowering + readdressing
