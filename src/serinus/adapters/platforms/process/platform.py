"""The `process` platform: each color is N local processes of the workload's command.

Replicas listen on free loopback ports and run detached, logging to
`<state_dir>/logs/<color>-<version>-<replica>.log`. They outlive serinus on purpose (a rollout
tool must not take the service down when it exits or is killed): every replica is recorded in
`<state_dir>/<color>.json`, and a new platform on the same directory adopts the recorded
processes that still run instead of starting others. Processes are also found again from
the process table (`census`): one a killed serinus started but had not recorded yet is adopted
into its slot, and after the state directory was removed the replicas are adopted from their
markers; any other process with this directory's markers is stopped. A color being stopped
(torn down, or replaced by another version) is first recorded as retiring: a platform opened
after a kill finishes stopping it and never starts that version again.

A replica whose process has ended is started again (on a new port) by `ensure` and `observe`;
when a replica's processes exit before ever becoming ready `FAILURES_REPORTED` times in a row,
the color reports the failure, with the end of the log, and further restarts back off.

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
from dataclasses import replace
from pathlib import Path

from serinus.adapters.crash_points import crash_point
from serinus.adapters.platforms.arguments import check_ensure_arguments
from serinus.adapters.platforms.process.census import FoundReplica, find_replicas, markers
from serinus.adapters.platforms.process.probing import LOOPBACK, Prober
from serinus.adapters.platforms.process.processes import (
    Running,
    describe_exit,
    exit_status,
    file_name_part,
    free_loopback_port,
    log_tail,
    render,
    spawn,
    terminate,
)
from serinus.adapters.platforms.process.records import ColorRecord, RecordFiles, ReplicaRecord
from serinus.adapters.platforms.process.replicas import (
    FAILURES_REPORTED,
    ColorReplicas,
    Replica,
    backoff,
    is_ready,
    port_of,
)
from serinus.adapters.private import private_folder
from serinus.core.spec import ProcessWorkload
from serinus.core.status import COLORS, Color, ColorState, Endpoint

logger = logging.getLogger(__name__)


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
        self._colors: dict[Color, ColorReplicas] = {}
        self._retiring: dict[Color, ColorReplicas] = {}  # stopping was interrupted: finish it
        self._settled = False
        for color in COLORS:
            record = self._files.load(color)
            if record is not None:
                loaded = ColorReplicas(
                    version=record.version,
                    desired=record.replicas,
                    replicas={m.replica: Replica(m) for m in record.members},
                )
                (self._retiring if record.retiring else self._colors)[color] = loaded

    # --- the Platform port ----------------------------------------------------------------

    async def ensure(self, color: Color, version: str, replicas: int) -> None:
        check_ensure_arguments(color, version, replicas, "process platform")
        await self._settle()
        current = self._colors.get(color)
        if current is not None and current.version != version:
            # The engine guarantees this color has no traffic: stop the old version first.
            logger.info("%s: replacing %s %s", self.name, color, current.version)
            self._save(color, retiring=True)
            await self._stop(current.replicas.values())
            current = None
        if current is None:
            current = self._colors[color] = ColorReplicas(version=version, desired=replicas)
        surplus = [r for index, r in current.replicas.items() if index >= replicas]
        if surplus:
            await self._stop(surplus)
            for replica in surplus:
                del current.replicas[replica.record.replica]
        current.desired = replicas
        for index in range(replicas):
            current.replicas.setdefault(index, Replica(ReplicaRecord(replica=index)))
        self._save(color)
        self._heal(color, current, time.monotonic())

    async def observe(self) -> dict[Color, ColorState]:
        await self._settle()
        prober = self._current_prober()
        for color, current in self._colors.items():
            self._heal(color, current, time.monotonic())
        await self._check(prober)
        for color, current in self._colors.items():
            if self._advance_readiness(prober, current):
                self._save(color)
        return {color: self._state(current) for color, current in self._colors.items()}

    async def tear_down(self, color: Color) -> None:
        await self._settle()
        if color in self._colors:
            self._save(color, retiring=True)
            current = self._colors.pop(color)
            stopping = [asyncio.create_task(self._stop([r])) for r in current.replicas.values()]
            if stopping:
                await asyncio.wait(stopping, return_when=asyncio.FIRST_COMPLETED)
            crash_point("teardown")  # one replica stopped, the others still stopping
            await asyncio.gather(*stopping)
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

    # --- what a killed predecessor left ---------------------------------------------------

    async def _settle(self) -> None:
        """Once per platform: finish interrupted stops, then adopt or stop unrecorded processes."""
        if self._settled:
            return
        self._settled = True
        retired = set(self._retiring)
        for color, retiring in list(self._retiring.items()):
            logger.info(
                "%s: finishing the interrupted stop of %s %s", self.name, color, retiring.version
            )
            await self._stop(retiring.replicas.values())
            del self._retiring[color]
            if color not in self._colors:
                self._files.delete(color)
        strays: list[FoundReplica] = []
        rebuilt: set[Color] = set()
        for found in find_replicas(self.state_dir, self.name):
            if found.color in retired or not self._adopt(found, rebuilt):
                strays.append(found)
        await self._stop_found(strays)

    def _adopt(self, found: FoundReplica, rebuilt: set[Color]) -> bool:
        """Take a process found in the process table into its slot; False: it has no place.

        `rebuilt`: colors whose record was lost, rebuilt here from the markers alone."""
        current = self._colors.get(found.color)
        if current is None:
            current = self._colors[found.color] = ColorReplicas(version=found.version, desired=0)
            rebuilt.add(found.color)
        if found.version != current.version:
            return False
        replica = current.replicas.get(found.replica)
        if replica is None and found.color not in rebuilt:
            return False  # beyond the recorded replicas (a scale-down the kill interrupted)
        if replica is not None and replica.record.pid == found.pid:
            return True  # recorded
        if replica is not None and replica.still_running():
            return False  # the slot has its own process: this one is a duplicate
        record = replica.record if replica is not None else ReplicaRecord(replica=found.replica)
        adopted = Replica(
            replace(
                record,
                pid=found.pid,
                create_time=found.create_time,
                port=found.port,
                ready_once=False,
                warmed=False,
            )
        )
        current.replicas[found.replica] = adopted
        current.desired = max(current.desired, found.replica + 1)
        logger.info(
            "%s: adopted %s replica %d (pid %d) from the process table",
            self.name,
            found.color,
            found.replica,
            found.pid,
        )
        self._save(found.color)
        return True

    async def _stop_found(self, found: Iterable[FoundReplica]) -> None:
        strays = [Running(f.pid, f.create_time) for f in found]
        for stray in strays:
            logger.warning("%s: stopping unrecorded replica process %d", self.name, stray.pid)
        await terminate(strays, self.workload.termination_grace_seconds)

    # --- processes ------------------------------------------------------------------------

    def _heal(self, color: Color, current: ColorReplicas, now: float) -> None:
        """Notice replica processes that ended; start those that are due (missing or ended)."""
        for index in sorted(current.replicas):
            replica = current.replicas[index]
            process = replica.running
            if process is not None and not replica.still_running():
                self._record_exit(color, current, replica, process, now)
            if replica.running is None and now >= replica.next_start_at:
                self._start(color, current, replica, now)

    def _record_exit(
        self, color: Color, current: ColorReplicas, replica: Replica, process: Running, now: float
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
        replica.next_start_at = now + backoff(failures)
        logger.warning(
            "%s: %s replica %d (%s) ended: %s",
            self.name,
            color,
            record.replica,
            current.version,
            replica.record.last_exit,
        )
        self._save(color)

    def _start(self, color: Color, current: ColorReplicas, replica: Replica, now: float) -> None:
        index = replica.record.replica
        port = free_loopback_port()
        argv = [render(part, port=port, version=current.version) for part in self.workload.command]
        env = {
            **os.environ,
            **{
                k: render(v, port=port, version=current.version)
                for k, v in self.workload.env.items()
            },
            # How `census` finds this process again if the record below is never written.
            **markers(self.state_dir, self.name, color, current.version, index, port),
        }
        cwd = Path(self.workload.working_dir) if self.workload.working_dir else None
        try:
            if cwd is not None and not cwd.is_dir():
                raise NotADirectoryError(f"working directory {cwd} does not exist")
            spawned = spawn(argv, env, cwd, self.log_path(color, current.version, index))
            crash_point("spawn")
        except OSError as exc:
            # Starting again will fail the same way: report at once, retry with back-off.
            failures = max(replica.record.failures_in_a_row + 1, FAILURES_REPORTED)
            replica.record = replace(
                replica.record,
                failures_in_a_row=failures,
                last_exit=f"cannot start command {argv[0]!r}: {exc.strerror or exc}",
            )
            replica.next_start_at = now + backoff(failures)
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

    async def _stop(self, replicas: Iterable[Replica]) -> None:
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
            *(prober.ready(port_of(r), self.workload.readiness) for r in due)
        )
        for replica, healthy in zip(due, results, strict=True):
            replica.healthy = healthy
            replica.checked_at = now

    def _advance_readiness(self, prober: Prober, current: ColorReplicas) -> bool:
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
                        prober.warm(
                            port_of(replica), warmup, self.workload.readiness.timeout_seconds
                        )
                    )
                elif task.done():
                    replica.warming = None
                    if not task.cancelled() and task.exception() is None and task.result():
                        replica.record = replace(record, warmed=True)
                        changed = True
            if is_ready(replica, warmup is not None) and not replica.record.ready_once:
                crash_point("ready")
                replica.record = replace(replica.record, ready_once=True, failures_in_a_row=0)
                changed = True
        return changed

    def _state(self, current: ColorReplicas) -> ColorState:
        warmup = self.workload.warmup is not None
        endpoints = [
            Endpoint(
                host=LOOPBACK,
                port=port_of(replica),
                ready=is_ready(replica, warmup),
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

    def _save(self, color: Color, *, retiring: bool = False) -> None:
        current = self._colors[color]
        self._files.save(
            ColorRecord(
                rollout=self.name,
                color=color,
                version=current.version,
                replicas=current.desired,
                members=tuple(r.record for _, r in sorted(current.replicas.items())),
                retiring=retiring,
            )
        )
