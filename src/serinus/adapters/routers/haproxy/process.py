"""The HAProxy daemon serinus runs: find the binary, check ports, start, adopt, stop.

HAProxy runs detached in master-worker mode (`-W -D`), so it keeps serving when serinus exits
or is killed; the next serinus adopts it through the pid file instead of starting another.
It carries the same kind of environment markers as the process platform's replicas
(`SERINUS_STATE_DIR`: the router's state folder, `SERINUS_ROLLOUT`, `SERINUS_COMPONENT`), so
whoever looks at the process table (tests, an operator) can tell what started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from serinus.adapters.private import FILE_MODE, open_private
from serinus.core.errors import RouterError

DEFAULT_BINARY = "haproxy"
START_TIMEOUT = 10.0


def find_binary(binary: str) -> str:
    """The binary's path; RouterError telling how to install HAProxy when it is missing."""
    found = shutil.which(binary)
    if found is not None:
        return found
    if binary == DEFAULT_BINARY:
        raise RouterError(
            "HAProxy is not installed: install the Debian package 'haproxy' "
            "(apt-get install haproxy)"
        )
    raise RouterError(
        f"HAProxy binary {binary!r} (trafficRouting.haproxy.binary) was not found or is not "
        "executable; install the Debian package 'haproxy' or fix the path"
    )


def check_ports_free(address: str, ports: Sequence[int]) -> None:
    """RouterError naming the first port something already listens on."""
    for port in ports:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR ignores TIME_WAIT leftovers but still fails on a listening socket.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise RouterError(
                        f"port {port} on {address} is already in use: HAProxy cannot listen on "
                        "it (choose another port in trafficRouting.haproxy or stop what uses it)"
                    ) from exc
                raise RouterError(f"cannot use port {port} on {address}: {exc}") from exc


async def wait_until_ports_free(address: str, ports: Sequence[int], timeout: float = 1.0) -> None:
    """`check_ports_free`, tried again for up to `timeout` seconds (a killed HAProxy's workers
    take a moment to let go of the ports)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            check_ports_free(address, ports)
            return
        except RouterError:
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.02)


class HaproxyProcess:
    """One HAProxy master process identified by its pid file and configuration file."""

    def __init__(
        self,
        binary: str,
        config: Path,
        pid_file: Path,
        log_file: Path,
        markers: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self.config = config
        self.pid_file = pid_file
        self.log_file = log_file
        self.markers = dict(markers or {})

    def running_pid(self) -> int | None:
        """The master's pid if it is alive and runs our configuration (pids get reused).

        Without a pid file (the state folder was removed) the master is found in the process
        table by its configuration path, so it is adopted or stopped, never left behind."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except FileNotFoundError:
            return self._find_master()
        except (OSError, ValueError, IndexError):
            return None
        return pid if self._runs_our_config(pid) else None

    def _runs_our_config(self, pid: int) -> bool:
        try:
            process = psutil.Process(pid)
            return (
                process.status() != psutil.STATUS_ZOMBIE and str(self.config) in process.cmdline()
            )
        except psutil.Error:
            return False

    def _find_master(self) -> int | None:
        ours = {p.pid for p in psutil.process_iter() if self._runs_our_config(p.pid)}
        # Workers run the same command line; the master is the one whose parent does not.
        masters = [pid for pid in ours if _parent(pid) not in ours]
        return min(masters) if masters else None

    async def check_config(self) -> None:
        """Run `haproxy -c` so a bad configuration fails with HAProxy's own words."""
        output, code = await self._run("-c", "-f", str(self.config))
        if code != 0:
            raise RouterError(f"HAProxy rejects the configuration {self.config}:\n{output}")

    async def start(self) -> int:
        """Start the daemon; returns the master's pid once the pid file names a live process."""
        self.pid_file.unlink(missing_ok=True)
        output, code = await self._run("-W", "-D", "-f", str(self.config), "-p", str(self.pid_file))
        if code != 0:
            raise RouterError(f"HAProxy failed to start (exit code {code}):\n{output.strip()}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while (pid := self.running_pid()) is None:
            if loop.time() > deadline:
                raise RouterError(
                    f"HAProxy started but wrote no pid to {self.pid_file}:\n{output.strip()}"
                )
            await asyncio.sleep(0.02)
        # HAProxy writes it 0644; it holds only a pid, but the state folder's files are 0600.
        self.pid_file.chmod(FILE_MODE)
        return pid

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the master and its workers (hard stop: this ends the traffic)."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.running_pid() is not None:
            if loop.time() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            await asyncio.sleep(0.02)
        self.pid_file.unlink(missing_ok=True)

    async def _run(self, *args: str) -> tuple[str, int]:
        # A file, not a pipe: the detached daemon may keep the descriptor open.
        with os.fdopen(open_private(self.log_file, os.O_WRONLY | os.O_TRUNC), "w") as log:
            process = await asyncio.create_subprocess_exec(
                self.binary,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.markers},
            )
            code = await process.wait()
        return self.log_file.read_text(), code


def _parent(pid: int) -> int | None:
    try:
        return int(psutil.Process(pid).ppid())
    except psutil.Error:
        return None
