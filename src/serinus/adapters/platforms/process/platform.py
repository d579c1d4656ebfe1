"""The `process` platform: each color is N local processes of the workload's command.

Replicas listen on free loopback ports and run detached, logging to
`<state_dir>/logs/<color>-<version>-<replica>.log`. They outlive serinus on purpose (a rollout
tool must not take the service down when it exits or is killed): every replica is recorded in
`<state_dir>/<color>.json`, and a new platform on the same directory adopts the recorded
processes that still run instead of starting others. A replica whose process has ended is
started again (on a new port) by `ensure` and `observe`; when a replica's processes exit before
ever becoming ready `FAILURES_REPORTED` times in a row, the color reports the failure, with the
end of the log, and further restarts back off.

A replica is ready while its readiness check passes, once it has also received the workload's
warm-up requests (sent in the background after it first passes the check, never twice).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from serinus.adapters.platforms.arguments import check_ensure_arguments
from serinus.adapters.platforms.process.probing import LOOPBACK, Prober
from serinus.adapters.platforms.process.processes import (
    Running,
    describe_exit,
    exit_status,
    file_name_part,
    free_loopback_port,
    is_alive,
    log_tail,
    render,
    spawn,
    terminate,
)
from serinus.adapters.platforms.process.records import ColorRecord, RecordFiles, ReplicaRecord
from serinus.adapters.private import private_folder
from serinus.core.spec import ProcessWorkload
from serinus.core.status import COLORS, Color, ColorState, Endpoint

FAILURES_REPORTED = 3
MAX_BACKOFF_SECONDS = 30.0

logger = logging.getLogger(__name__)


@dataclass
class _Replica:
    """A replica slot: its persisted record plus what only this platform instance knows."""

    record: ReplicaRecord
    started: Running | None = None  # set when this instance started the process (has a Popen)
    log_offset: int = 0
    next_start_at: float = 0.0
    checked_at: float = -math.inf
    healthy: bool = False
    warming: asyncio.Task[bool] | None = None

    @property
    def running(self) -> Running | None:
        record = self.record
        if record.pid is None or record.create_time is None:
            return None
        return self.started or Running(record.pid, record.create_time)

    def still_running(self) -> bool:
        process = self.running
        if process is None:
            return False
        if process.popen is not None:
            return process.popen.poll() is None
        return is_alive(process.pid, process.create_time)

    def cancel_warming(self) -> None:
        if self.warming is not None and not self.warming.done():
            self.warming.cancel()
        self.warming = None


@dataclass
class _Color:
    version: str
    desired: int
    replicas: dict[int, _Replica] = field(default_factory=dict)


class ProcessPlatform:
    """Implements the `Platform` port with local processes (see the module docstring)."""

    def __init__(self, name: str, workload: ProcessWorkload, state_dir: Path) -> None:
        self.name = name
        self.workload = workload
        self.state_dir = state_dir
        self.logs_dir = state_dir / "logs"
        private_folder(state_dir)
        self._files = RecordFiles(state_dir, name)
        self._prober: Prober | None = None
        self._colors: dict[Color, _Color] = {}
        for color in COLORS:
            record = self._files.load(color)
            if record is not None:
                self._colors[color] = _Color(
                    version=record.version,
                    desired=record.replicas,
                    replicas={m.replica: _Replica(m) for m in record.members},
                )

    # --- the Platform port ----------------------------------------------------------------

    async def ensure(self, color: Color, version: str, replicas: int) -> None:
        check_ensure_arguments(color, version, replicas, "process platform")
        current = self._colors.get(color)
        if current is not None and current.version != version:
            # The engine guarantees this color has no traffic: stop the old version first.
            logger.info("%s: replacing %s %s", self.name, color, current.version)
            await self._stop(current.replicas.values())
            current = None
        if current is None:
            current = self._colors[color] = _Color(version=version, desired=replicas)
        surplus = [r for index, r in current.replicas.items() if index >= replicas]
        if surplus:
            await self._stop(surplus)
            for replica in surplus:
                del current.replicas[replica.record.replica]
        current.desired = replicas
        for index in range(replicas):
            current.replicas.setdefault(index, _Replica(ReplicaRecord(replica=index)))
        self._save(color)
        self._heal(color, current, time.monotonic())

    async def observe(self) -> dict[Color, ColorState]:
        prober = self._current_prober()
        for color, current in self._colors.items():
            self._heal(color, current, time.monotonic())
        await self._check(prober)
        for color, current in self._colors.items():
            if self._advance_readiness(prober, current):
                self._save(color)
        return {color: self._state(current) for color, current in self._colors.items()}

    async def tear_down(self, color: Color) -> None:
        current = self._colors.pop(color, None)
        if current is not None:
            await self._stop(current.replicas.values())
        self._files.delete(color)

    async def close(self) -> None:
        """Stop checking and warming; the replicas keep running, and stay recorded."""
        for current in self._colors.values():
            for replica in current.replicas.values():
                replica.cancel_warming()
        if self._prober is not None and self._prober.loop is asyncio.get_running_loop():
            await self._prober.aclose()
        self._prober = None

    # --- beyond the port ------------------------------------------------------------------

    async def tear_down_all(self) -> None:
        """Stop every replica of every color and forget them (`serinus delete`, demo cleanup)."""
        await asyncio.gather(*(self.tear_down(color) for color in COLORS))

    def log_path(self, color: Color, version: str, replica: int) -> Path:
        return self.logs_dir / f"{color}-{file_name_part(version)}-{replica}.log"

    def records(self, color: Color) -> tuple[ReplicaRecord, ...]:
        """The color's replicas as recorded (pid, port, restarts, ...), by replica index."""
        current = self._colors.get(color)
        if current is None:
            return ()
        return tuple(r.record for _, r in sorted(current.replicas.items()))

    def restarts(self, color: Color) -> int:
        """How many times the color's replica processes ended and had to be started again."""
        current = self._colors.get(color)
        return sum(r.record.restarts for r in current.replicas.values()) if current else 0

    # --- processes ------------------------------------------------------------------------

    def _heal(self, color: Color, current: _Color, now: float) -> None:
        """Notice replica processes that ended; start those that are due (missing or ended)."""
        for index in sorted(current.replicas):
            replica = current.replicas[index]
            process = replica.running
            if process is not None and not replica.still_running():
                self._record_exit(color, current, replica, process, now)
            if replica.running is None and now >= replica.next_start_at:
                self._start(color, current, replica, now)

    def _record_exit(
        self, color: Color, current: _Color, replica: _Replica, process: Running, now: float
    ) -> None:
        record = replica.record
        how = describe_exit(exit_status(process.pid, process.create_time, process.popen))
        tail = log_tail(self.log_path(color, current.version, record.replica), replica.log_offset)
        failures = 0 if record.ready_once else record.failures_in_a_row + 1
        replica.record = replace(
            record,
            pid=None,
            create_time=None,
            restarts=record.restarts + 1,
            ready_once=False,
            warmed=False,
            failures_in_a_row=failures,
            last_exit=f"{how}: {tail}" if tail else how,
        )
        replica.started = None
        replica.healthy = False
        replica.cancel_warming()
        replica.next_start_at = now + _backoff(failures)
        logger.warning(
            "%s: %s replica %d (%s) ended: %s",
            self.name,
            color,
            record.replica,
            current.version,
            replica.record.last_exit,
        )
        self._save(color)

    def _start(self, color: Color, current: _Color, replica: _Replica, now: float) -> None:
        index = replica.record.replica
        port = free_loopback_port()
        argv = [render(part, port=port, version=current.version) for part in self.workload.command]
        env = {
            **os.environ,
            **{
                k: render(v, port=port, version=current.version)
                for k, v in self.workload.env.items()
            },
            "SERINUS_ROLLOUT": self.name,
            "SERINUS_COLOR": color,
            "SERINUS_VERSION": current.version,
            "SERINUS_REPLICA": str(index),
            "SERINUS_PORT": str(port),
        }
        cwd = Path(self.workload.working_dir) if self.workload.working_dir else None
        try:
            if cwd is not None and not cwd.is_dir():
                raise NotADirectoryError(f"working directory {cwd} does not exist")
            spawned = spawn(argv, env, cwd, self.log_path(color, current.version, index))
        except OSError as exc:
            # Starting again will fail the same way: report at once, retry with back-off.
            failures = max(replica.record.failures_in_a_row + 1, FAILURES_REPORTED)
            replica.record = replace(
                replica.record,
                failures_in_a_row=failures,
                last_exit=f"cannot start command {argv[0]!r}: {exc.strerror or exc}",
            )
            replica.next_start_at = now + _backoff(failures)
            self._save(color)
            return
        replica.record = replace(
            replica.record,
            pid=spawned.pid,
            create_time=spawned.create_time,
            port=port,
            ready_once=False,
            warmed=False,
        )
        replica.started = Running(spawned.pid, spawned.create_time, spawned.popen)
        replica.log_offset = spawned.log_offset
        replica.healthy = False
        replica.checked_at = -math.inf
        self._save(color)  # at once: a kill now must not leave an unrecorded process

    async def _stop(self, replicas: Iterable[_Replica]) -> None:
        running = []
        for replica in replicas:
            replica.cancel_warming()
            if (process := replica.running) is not None:
                running.append(process)
        await terminate(running, self.workload.termination_grace_seconds)

    # --- readiness ------------------------------------------------------------------------

    def _current_prober(self) -> Prober:
        # The HTTP client belongs to the event loop it was created in.
        if self._prober is None or self._prober.loop is not asyncio.get_running_loop():
            self._prober = Prober()
        return self._prober

    async def _check(self, prober: Prober) -> None:
        """Run the readiness checks that are due, all at once."""
        period = self.workload.readiness.period_seconds
        now = time.monotonic()
        due = [
            replica
            for current in self._colors.values()
            for replica in current.replicas.values()
            if replica.running is not None
            and replica.record.port is not None
            and now - replica.checked_at >= period
        ]
        results = await asyncio.gather(
            *(prober.ready(_port(r), self.workload.readiness) for r in due)
        )
        for replica, healthy in zip(due, results, strict=True):
            replica.healthy = healthy
            replica.checked_at = now

    def _advance_readiness(self, prober: Prober, current: _Color) -> bool:
        """Warm replicas that passed their check; note the first readiness. True if changed."""
        changed = False
        warmup = self.workload.warmup
        for replica in current.replicas.values():
            if replica.running is None or not replica.healthy:
                continue
            record = replica.record
            if warmup is not None and not record.warmed:
                task = replica.warming
                if task is not None and task.get_loop() is not prober.loop:
                    task = None  # started in an event loop that is gone
                if task is None:
                    replica.warming = prober.loop.create_task(
                        prober.warm(_port(replica), warmup, self.workload.readiness.timeout_seconds)
                    )
                elif task.done():
                    replica.warming = None
                    if not task.cancelled() and task.exception() is None and task.result():
                        replica.record = replace(record, warmed=True)
                        changed = True
            if _ready(replica, warmup is not None) and not replica.record.ready_once:
                replica.record = replace(replica.record, ready_once=True, failures_in_a_row=0)
                changed = True
        return changed

    def _state(self, current: _Color) -> ColorState:
        warmup = self.workload.warmup is not None
        endpoints = [
            Endpoint(
                host=LOOPBACK,
                port=_port(replica),
                ready=_ready(replica, warmup),
                replica=index,
            )
            for index, replica in sorted(current.replicas.items())
            if replica.running is not None and replica.record.port is not None
        ]
        failures = [
            r.record.last_exit or "replica failed"
            for _, r in sorted(current.replicas.items())
            if r.record.failures_in_a_row >= FAILURES_REPORTED
        ]
        return ColorState(
            version=current.version,
            desired=current.desired,
            ready=sum(e.ready for e in endpoints),
            endpoints=endpoints,
            failure=failures[0] if failures else None,
        )

    def _save(self, color: Color) -> None:
        current = self._colors[color]
        self._files.save(
            ColorRecord(
                rollout=self.name,
                color=color,
                version=current.version,
                replicas=current.desired,
                members=tuple(r.record for _, r in sorted(current.replicas.items())),
            )
        )


def _ready(replica: _Replica, needs_warmup: bool) -> bool:
    return replica.healthy and (replica.record.warmed or not needs_warmup)


def _port(replica: _Replica) -> int:
    port = replica.record.port
    assert port is not None, "a running replica has a port"
    return port


def _backoff(failures: int) -> float:
    """Seconds before starting a replica again: at once until the failure is reported."""
    if failures < FAILURES_REPORTED:
        return 0.0
    return min(MAX_BACKOFF_SECONDS, 2.0 ** (failures - FAILURES_REPORTED))
