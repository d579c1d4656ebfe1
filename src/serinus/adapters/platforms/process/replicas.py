"""The process platform's in-memory view of its replicas: a slot's record plus what only the
running platform knows (its Popen handle, readiness checks, warm-up task, back-off)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from serinus.adapters.platforms.process.processes import Running, is_alive
from serinus.adapters.platforms.process.records import ReplicaRecord

FAILURES_REPORTED = 3
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class Replica:
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
class ColorReplicas:
    version: str
    desired: int
    replicas: dict[int, Replica] = field(default_factory=dict)


def is_ready(replica: Replica, needs_warmup: bool) -> bool:
    return replica.healthy and (replica.record.warmed or not needs_warmup)


def port_of(replica: Replica) -> int:
    port = replica.record.port
    assert port is not None, "a running replica has a port"
    return port


def backoff(failures: int) -> float:
    """Seconds before starting a replica again: at once until the failure is reported."""
    if failures < FAILURES_REPORTED:
        return 0.0
    return min(MAX_BACKOFF_SECONDS, 2.0 ** (failures - FAILURES_REPORTED))
