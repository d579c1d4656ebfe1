"""Taking a running HAProxy to a router state through its Runtime API, and verifying it did.

Servers follow `plan` (raise before lower); map files are edited entry by entry. Both read the
result back and raise RouterError naming what HAProxy did not take.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from serinus.adapters.routers.haproxy.config import route_value
from serinus.adapters.routers.haproxy.layout import MAIN_BACKEND, PREVIEW_KEY, color_backend
from serinus.adapters.routers.haproxy.plan import (
    ServerKey,
    ServerStatus,
    ServerTarget,
    desired_servers,
    plan,
)
from serinus.adapters.routers.haproxy.runtime import RuntimeApi
from serinus.adapters.routers.haproxy.state import RouterState
from serinus.core.errors import RouterError
from serinus.core.status import COLORS


async def servers(runtime: RuntimeApi) -> dict[ServerKey, ServerStatus]:
    table: dict[ServerKey, ServerStatus] = {}
    for backend in (MAIN_BACKEND, *(color_backend(color) for color in COLORS)):
        table.update(await runtime.servers(backend))
    return table


async def apply_servers(runtime: RuntimeApi, state: RouterState) -> None:
    desired = desired_servers(state)
    actual = await servers(runtime)
    for command in plan(actual, desired):
        await runtime.change(command)
    mismatches = _mismatches(await servers(runtime), desired)
    if mismatches:
        raise RouterError(
            f"HAProxy on {runtime.socket_path} did not take the server settings: "
            + "; ".join(mismatches[:5])
        )


async def apply_map(runtime: RuntimeApi, map_file: Path, desired: Mapping[str, str]) -> None:
    actual = await runtime.map_entries(map_file)
    for key, value in desired.items():
        if key not in actual:
            await runtime.change(f"add map {map_file} {key} {value}")
        elif actual[key] != value:
            await runtime.change(f"set map {map_file} {key} {value}")
    for key in actual.keys() - desired.keys():
        await runtime.change(f"del map {map_file} {key}")
    if (observed := await runtime.map_entries(map_file)) != dict(desired):
        raise RouterError(
            f"HAProxy map {map_file} reads back {observed} after setting {dict(desired)}"
        )


def routes_entries(state: RouterState) -> dict[str, str]:
    return {name: route_value(sel.variant, sel.color) for name, sel in state.routes.items()}


def preview_entries(state: RouterState) -> dict[str, str]:
    return {} if state.preview is None else {PREVIEW_KEY: state.preview}


def _mismatches(
    actual: Mapping[ServerKey, ServerStatus], desired: Mapping[ServerKey, ServerTarget]
) -> list[str]:
    found: list[str] = []
    for key, target in desired.items():
        now = actual[key]
        where = f"{key[0]}/{key[1]}"
        if now.weight != target.weight or now.admin != target.admin:
            found.append(
                f"{where} is {now.admin} with weight {now.weight}, "
                f"expected {target.admin} with weight {target.weight}"
            )
        elif target.address is not None and target.address != (now.host, now.port):
            found.append(f"{where} is at {now.host}:{now.port}, expected {target.address}")
    return found
