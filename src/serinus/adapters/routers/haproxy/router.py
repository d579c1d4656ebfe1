"""The TrafficRouter backed by a local HAProxy: weights, header routes and preview at runtime.

Files in `state_dir`: `haproxy.cfg` (rendered), `haproxy.pid` (the master's pid),
`haproxy.log` (HAProxy's start-up output), `state.json` (see `state`), `routes.map` and
`preview.map` (loaded by HAProxy at start, rewritten after every runtime change so a restarted
HAProxy keeps them), `haproxy.stopped` (written by `stop()`), and by default the admin socket
`admin.sock`.

A HAProxy the router runs that dies (kill -9, OOM) is started again from its configuration,
which is rendered from the state, so weights, endpoints, header routes and preview are back at
once: as soon as it dies (the router watches the master, see `watching`), and at the latest at
the next port call. One that serinus stopped on purpose is not.

Header routes must be declared up front (`header_routes`: the Rollout's `setHeaderRoute`
steps) because HAProxy cannot add rules at runtime; see `headers`.

With `attach: true` the router uses an HAProxy that someone else runs on `adminSocket`; that
HAProxy must run a configuration rendered by serinus for the same state directory
(`write_config()` writes it), and serinus never starts, reloads or stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from serinus.adapters.crash_points import crash_point
from serinus.adapters.private import private_folder, write_private
from serinus.adapters.routers.haproxy import words
from serinus.adapters.routers.haproxy.applying import (
    apply_map,
    apply_servers,
    preview_entries,
    routes_entries,
    servers,
)
from serinus.adapters.routers.haproxy.config import (
    ConfigInputs,
    ports_of,
    render_config,
    render_preview_map,
    render_routes_map,
)
from serinus.adapters.routers.haproxy.headers import declare, declared_variant, parse_matches
from serinus.adapters.routers.haproxy.layout import MAIN_BACKEND, admin_socket
from serinus.adapters.routers.haproxy.plan import (
    desired_servers,
)
from serinus.adapters.routers.haproxy.process import (
    HaproxyProcess,
    check_ports_free,
    find_binary,
    wait_until_ports_free,
)
from serinus.adapters.routers.haproxy.runtime import RuntimeApi
from serinus.adapters.routers.haproxy.slots import assign_slots
from serinus.adapters.routers.haproxy.state import (
    RouterState,
    RouteSelection,
    load_state,
    save_state,
)
from serinus.adapters.routers.haproxy.watching import DeathWatch
from serinus.adapters.routers.haproxy.weighting import color_shares
from serinus.adapters.routers.inputs import parse_color, validate_weights
from serinus.adapters.routers.readiness import refuse_unready
from serinus.core.errors import InvalidInput, RouterError, SerinusError
from serinus.core.spec import HaproxyRouting, SetHeaderRoute
from serinus.core.status import COLORS, Color, Endpoint

_RELOAD_TIMEOUT = 10.0
_DEAF_SECONDS = 3.0  # a live HAProxy is replaced only after its admin socket failed this long

log = logging.getLogger("serinus.haproxy")


class HaproxyRouter:
    """TrafficRouter over one HAProxy per rollout (see the module docstring for its files)."""

    def __init__(
        self,
        name: str,
        routing: HaproxyRouting,
        slots_per_color: int,
        state_dir: Path,
        header_routes: Sequence[SetHeaderRoute] = (),
        health_check_path: str | None = None,
        on_command: Callable[[str], None] | None = None,
        watch: bool = True,
    ) -> None:
        if slots_per_color < 1:
            raise InvalidInput([f"slots_per_color: must be at least 1, got {slots_per_color}"])
        state_dir = state_dir.absolute()
        # Paths appear unquoted inside HAProxy sample-fetch arguments.
        words.path(str(state_dir), "HAProxy state directory")
        self.name = name
        self.routing = routing
        self.slots_per_color = slots_per_color
        self.state_dir = state_dir
        self.config_path = state_dir / "haproxy.cfg"
        self.state_path = state_dir / "state.json"
        # Written by stop(): HAProxy ended on purpose, and no router's watch starts it again.
        self.stopped_path = state_dir / "haproxy.stopped"
        self.inputs = ConfigInputs(
            name=name,
            routing=routing,
            admin_socket=admin_socket(routing, state_dir),
            routes_map=state_dir / "routes.map",
            preview_map=state_dir / "preview.map",
            health_check_path=health_check_path,
            header_routes=declare(header_routes),
        )
        self.runtime = RuntimeApi(self.inputs.admin_socket, on_command=on_command)
        self.process = HaproxyProcess(
            routing.binary,
            self.config_path,
            state_dir / "haproxy.pid",
            state_dir / "haproxy.log",
            markers={
                "SERINUS_STATE_DIR": str(state_dir),
                "SERINUS_ROLLOUT": name,
                "SERINUS_COMPONENT": "haproxy",
            },
        )
        self._state: RouterState | None = None
        self._lock = asyncio.Lock()
        self.restarts = 0  # times a dead HAProxy was started again after prepare()
        # With `watch`, a dead HAProxy is started again as soon as it dies, not at the next call.
        self._death = DeathWatch(self._on_death) if watch else None
        self._reviving: asyncio.Task[None] | None = None
        self._layout_fingerprint()  # bad configuration input fails here, naming the field

    # --- lifecycle ---------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Start HAProxy, or adopt the one already running from this state directory."""
        async with self._lock:
            private_folder(self.state_dir)
            self.stopped_path.unlink(missing_ok=True)
            await self._bring_up(load_state(self.state_path, self.slots_per_color))

    async def _bring_up(self, state: RouterState, *, reviving: bool = False) -> None:
        if self.routing.attach:
            await self._attach()
        else:
            await self._start_or_adopt(state, reviving=reviving)
        await self._check_layout()
        await apply_servers(self.runtime, state)
        if self.inputs.header_routes:  # HAProxy only knows maps its config refers to
            await apply_map(self.runtime, self.inputs.routes_map, routes_entries(state))
        if self.routing.preview_port is not None:
            await apply_map(self.runtime, self.inputs.preview_map, preview_entries(state))
        self._state = state
        self._persist(state)
        if self._death is not None and not self.routing.attach:
            pid = self.process.running_pid()
            if pid is not None:
                self._death.watch(pid)

    async def _live_state(self) -> RouterState:
        """The state, once an HAProxy this router runs is known to be alive: one that died
        (kill -9, OOM) is started again from its configuration, which is rendered from the
        state, so it resumes the weights, endpoints, header routes and preview at once."""
        state = self._require_state()
        if not self.routing.attach and self.process.running_pid() is None:
            log.warning("HAProxy for %s is not running: starting it again", self.name)
            await self._bring_up(state, reviving=True)
            self.restarts += 1
        return state

    def write_config(self) -> Path:
        """Render the configuration and map files from the stored state; returns the config path.

        For `attach: true`: run HAProxy yourself with this file.
        """
        private_folder(self.state_dir)
        state = load_state(self.state_path, self.slots_per_color)
        self._persist(state)
        write_private(self.config_path, render_config(self.inputs, state))
        return self.config_path

    @property
    def watched_pid(self) -> int | None:
        """The HAProxy master this router watches, if any (it stops when the master ends)."""
        return None if self._death is None else self._death.pid

    def _on_death(self) -> None:
        """The watched master ended: start it again now (once; the lock orders it with calls)."""
        if self._reviving is None or self._reviving.done():
            self._reviving = asyncio.get_running_loop().create_task(self._revive())

    async def _revive(self) -> None:
        async with self._lock:
            if self._state is None or self.stopped_path.exists():
                return  # stopped (by this router or another): serinus ended the traffic
            try:
                await self._live_state()
            except SerinusError as exc:  # the next port call tries again, and reports it
                log.warning("HAProxy for %s died, not started again yet: %s", self.name, exc)

    async def close(self) -> None:
        """Stop watching HAProxy (a revival under way is finished first); HAProxy runs on.
        Each runtime command uses its own connection: there is nothing else to release."""
        if self._death is not None:
            self._death.cancel()
        if self._reviving is not None and not self._reviving.done():
            with contextlib.suppress(Exception):
                await self._reviving

    async def stop(self) -> None:
        """Stop the HAProxy this router started (tear-down and tests; ends the traffic)."""
        if self.routing.attach:
            raise RouterError("this router attached to an HAProxy it does not own; not stopping it")
        async with self._lock:  # after a revival under way, never before it
            if self._death is not None:
                self._death.cancel()
            self._state = None  # a revival still queued finds it stopped
            if self.state_dir.is_dir():
                write_private(self.stopped_path, "stopped by serinus\n")
            await self.process.stop()

    async def _attach(self) -> None:
        if self.routing.admin_socket is None:
            raise InvalidInput(["trafficRouting.haproxy.adminSocket: required when attach is true"])
        if not await self.runtime.answers():
            raise RouterError(
                f"trafficRouting.haproxy.attach is set but no HAProxy answers on the admin "
                f"socket {self.inputs.admin_socket}"
            )

    async def _start_or_adopt(self, state: RouterState, *, reviving: bool = False) -> None:
        binary = find_binary(self.routing.binary)
        self.process.binary = binary
        pid = self.process.running_pid()
        # One missed command (a busy machine) must not make serinus replace a live HAProxy:
        # that drops every connection it serves.
        if pid is not None and await self.runtime.answers_within(_DEAF_SECONDS):
            if self._layout_changed():
                await self._reload(pid, state)
            return
        if pid is not None:
            # Ours (pid file and configuration match) but deaf: replacing it ends its traffic.
            log.warning("HAProxy (pid %d) does not answer on its admin socket: replacing it", pid)
            await self.process.stop()
        if reviving:  # the dead master's workers may hold the ports a moment longer
            await wait_until_ports_free(self.routing.bind_address, ports_of(self.routing))
        else:
            check_ports_free(self.routing.bind_address, ports_of(self.routing))
        self._write_files(state)
        if not reviving:  # the layout was checked when first started; every second counts now
            await self.process.check_config()
        await self.process.start()
        if not await self.runtime.answers_within(_RELOAD_TIMEOUT, poll=0.02, wait_for_file=True):
            raise RouterError(
                f"HAProxy started but its admin socket {self.inputs.admin_socket} does not "
                f"answer; see {self.process.log_file}"
            )

    def _layout_fingerprint(self) -> str:
        """What the running configuration must match, whatever the runtime state."""
        empty = render_config(self.inputs, RouterState.empty(self.slots_per_color))
        return hashlib.sha256(empty.encode()).hexdigest()

    def _layout_changed(self) -> bool:
        stored = self.state_dir / "layout.sha256"
        return not stored.exists() or stored.read_text().strip() != self._layout_fingerprint()

    def _write_files(self, state: RouterState) -> None:
        self._persist(state)
        write_private(self.config_path, render_config(self.inputs, state))
        write_private(self.state_dir / "layout.sha256", self._layout_fingerprint() + "\n")

    async def _reload(self, master_pid: int, state: RouterState) -> None:
        """Seamless reload (the master re-reads the file, listeners are handed over)."""
        old_worker = await self.runtime.worker_pid()
        if old_worker is None:
            raise RouterError(f"HAProxy on {self.inputs.admin_socket} does not report its pid")
        self._write_files(state)
        await self.process.check_config()
        os.kill(master_pid, signal.SIGUSR2)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _RELOAD_TIMEOUT
        while await self.runtime.worker_pid() in (None, old_worker):
            if loop.time() > deadline:
                raise RouterError(
                    f"HAProxy (pid {master_pid}) did not reload {self.config_path} "
                    f"within {_RELOAD_TIMEOUT:g} s"
                )
            await asyncio.sleep(0.05)

    async def _check_layout(self) -> None:
        actual = await servers(self.runtime)
        missing = sorted(
            f"{be}/{srv}" for be, srv in desired_servers(self._empty()) if (be, srv) not in actual
        )
        if missing:
            raise RouterError(
                f"HAProxy on {self.inputs.admin_socket} lacks the servers serinus needs "
                f"({', '.join(missing[:4])}...): is it running a configuration rendered by serinus "
                f"with {self.slots_per_color} slots per color?"
            )

    def _empty(self) -> RouterState:
        return RouterState.empty(self.slots_per_color)

    # --- the port ----------------------------------------------------------------------------

    async def sync_endpoints(self, color: Color, endpoints: Sequence[Endpoint]) -> None:
        color = parse_color(color, "color")
        for index, endpoint in enumerate(endpoints):  # both go into runtime commands
            words.address(endpoint.host, f"endpoints[{index}].host")
            words.port(endpoint.port, f"endpoints[{index}].port")
        async with self._lock:
            state = await self._live_state()
            slots = assign_slots(color, state.slots[color], endpoints)
            updated = state.with_slots(color, slots)
            await apply_servers(self.runtime, updated)
            self._commit(updated)

    async def read_weights(self) -> dict[Color, int]:
        if self._state is not None:
            async with self._lock:
                await self._live_state()
        return await self._weights_in_force()

    async def _weights_in_force(self) -> dict[Color, int]:
        servers = await self.runtime.servers(MAIN_BACKEND)
        totals = dict.fromkeys(COLORS, 0)
        for (_, name), server in servers.items():
            color = parse_color(name.rsplit("-", 1)[0], f"{MAIN_BACKEND}/{name}")
            totals[color] += server.effective
        return color_shares(totals)

    async def set_weights(self, weights: Mapping[Color, int]) -> None:
        wanted = validate_weights(weights)
        async with self._lock:
            state = await self._live_state()
            ready = {color: state.ready_count(color) for color in COLORS}
            refuse_unready(wanted, ready, f"HAProxy on {self.inputs.admin_socket}")
            updated = replace(state, shares=wanted)
            await apply_servers(self.runtime, updated)
            crash_point("weights")
            self._commit(updated)
            observed = await self._weights_in_force()
            if observed != wanted:
                raise RouterError(
                    f"HAProxy on {self.inputs.admin_socket} reads back weights {observed} "
                    f"after setting {wanted}"
                )

    async def set_header_route(
        self, name: str, matches: Sequence[Mapping[str, Any]], color: Color
    ) -> None:
        color = parse_color(color, "color")
        variant = declared_variant(self.inputs.header_routes, name, parse_matches(name, matches))
        async with self._lock:
            state = await self._live_state()
            routes = {**state.routes, name: RouteSelection(variant, color)}
            updated = replace(state, routes=routes)
            await apply_map(self.runtime, self.inputs.routes_map, routes_entries(updated))
            self._commit(updated)

    async def remove_header_route(self, name: str) -> None:
        async with self._lock:
            state = await self._live_state()
            routes = {key: value for key, value in state.routes.items() if key != name}
            updated = replace(state, routes=routes)
            if self.inputs.header_routes:
                await apply_map(self.runtime, self.inputs.routes_map, routes_entries(updated))
            self._commit(updated)

    async def set_preview(self, color: Color | None) -> None:
        if color is not None:
            color = parse_color(color, "color")
        if self.routing.preview_port is None:
            return
        async with self._lock:
            updated = replace(await self._live_state(), preview=color)
            await apply_map(self.runtime, self.inputs.preview_map, preview_entries(updated))
            self._commit(updated)

    # --- applying ----------------------------------------------------------------------------

    def _require_state(self) -> RouterState:
        if self._state is None:
            raise RouterError("the HAProxy router is not prepared: call prepare() first")
        return self._state

    def _commit(self, state: RouterState) -> None:
        self._state = state
        self._persist(state)

    def _persist(self, state: RouterState) -> None:
        save_state(self.state_path, state)
        write_private(self.inputs.routes_map, render_routes_map(state))
        write_private(self.inputs.preview_map, render_preview_map(state))
