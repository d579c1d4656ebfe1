"""Client of HAProxy's admin socket (the Runtime API): one command per connection.

HAProxy answers a non-interactive connection with the command's output and closes it, so each
command is self-contained and a failure points at exactly one command. Errors name the socket.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

from serinus.adapters.routers.haproxy.plan import Admin, ServerKey, ServerStatus
from serinus.core.errors import RouterError

# srv_admin_state bits (HAProxy's enum srv_admin): any maintenance flag, any drain flag.
_ADMIN_MAINT = 0x01 | 0x02 | 0x20
_ADMIN_DRAIN = 0x08 | 0x10
_OPERATIONAL_RUNNING = 2

# `set server ... addr` reports what it changed; anything else is an error.
_ADDRESS_CHANGED = re.compile(r"^(IP changed from|no need to change the addr)")


class RuntimeApi:
    def __init__(
        self,
        socket_path: Path,
        timeout: float = 5.0,
        on_command: Callable[[str], None] | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        # Observers (tests, audit) see every command about to be sent, in order.
        self.on_command = on_command

    async def execute(self, command: str) -> str:
        """The command's output (trailing blank line removed)."""
        if "\n" in command or ";" in command:
            raise RouterError(f"refusing to send a multi-command line to HAProxy: {command!r}")
        if self.on_command is not None:
            self.on_command(command)
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
                try:
                    writer.write(command.encode() + b"\n")
                    await writer.drain()
                    output = await reader.read()
                finally:
                    writer.close()
        except TimeoutError as exc:
            raise RouterError(
                f"HAProxy admin socket {self.socket_path} did not answer {command!r} "
                f"within {self.timeout:g} s"
            ) from exc
        except OSError as exc:
            raise RouterError(
                f"cannot talk to HAProxy on its admin socket {self.socket_path}: {exc}"
            ) from exc
        return output.decode(errors="replace").rstrip("\n")

    async def change(self, command: str) -> None:
        """Run a command that prints nothing on success (set weight/state/health, maps)."""
        output = await self.execute(command)
        ok = _ADDRESS_CHANGED.match(output) if " addr " in command else output == ""
        if not ok:
            raise RouterError(
                f"HAProxy (admin socket {self.socket_path}) refused {command!r}: {output.strip()}"
            )

    async def answers(self) -> bool:
        try:
            return "Name: HAProxy" in await self.execute("show info")
        except RouterError:
            return False

    async def answers_within(
        self, seconds: float, *, poll: float = 0.1, wait_for_file: bool = False
    ) -> bool:
        """Whether HAProxy answers within `seconds`, asked every `poll` seconds. Without the
        socket file it is deaf at once, unless `wait_for_file` (HAProxy is starting)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while wait_for_file or self.socket_path.exists():
            if await self.answers():
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(poll)
        return False

    async def worker_pid(self) -> int | None:
        """The pid of the worker answering (it changes on a reload); None: no answer."""
        try:
            info = await self.execute("show info")
        except RouterError:
            return None
        found = re.search(r"^Pid: (\d+)$", info, re.MULTILINE)
        return int(found.group(1)) if found else None

    async def servers(self, backend: str) -> dict[ServerKey, ServerStatus]:
        output = await self.execute(f"show servers state {backend}")
        lines = output.splitlines()
        if len(lines) < 2 or not lines[1].startswith("# "):
            raise RouterError(
                f"HAProxy (admin socket {self.socket_path}) has no backend {backend!r}: "
                f"{output.strip()} (is it running a configuration rendered by serinus?)"
            )
        columns = lines[1][2:].split()
        table: dict[ServerKey, ServerStatus] = {}
        for line in lines[2:]:
            if not line.strip():
                continue
            row = dict(zip(columns, line.split(), strict=False))
            flags = int(row["srv_admin_state"])
            admin: Admin = (
                "maint" if flags & _ADMIN_MAINT else "drain" if flags & _ADMIN_DRAIN else "ready"
            )
            table[(backend, row["srv_name"])] = ServerStatus(
                host=row["srv_addr"],
                port=int(row["srv_port"]),
                weight=int(row["srv_uweight"]),
                admin=admin,
                up=int(row["srv_op_state"]) == _OPERATIONAL_RUNNING,
            )
        return table

    async def map_entries(self, map_file: Path) -> dict[str, str]:
        output = await self.execute(f"show map {map_file}")
        entries: dict[str, str] = {}
        for line in output.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0].startswith("0x"):
                entries[parts[1]] = parts[2]
            elif line.strip():
                raise RouterError(
                    f"HAProxy (admin socket {self.socket_path}) cannot show map {map_file}: "
                    f"{output.strip()}"
                )
        return entries
