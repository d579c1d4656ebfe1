"""What the benchmarks share: one rollout driven in this process through real HAProxy.

The engine, router and platform are the local mode's own (as `serinus run` and the demo use
them); replicas are `serinus.demo.app` processes. `LocalBench` owns a short state folder under
/tmp (HAProxy's admin socket path must stay under 97 characters) and tears everything down on
exit: both colors' replicas, the rollout's HAProxy, the folder.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app import operations
from serinus.app.driver import POLL_SECONDS, drive
from serinus.app.engine import Engine, Reconciled
from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.core.documents import validate_model
from serinus.core.ports import Platform, TrafficRouter
from serinus.core.spec import Rollout
from serinus.core.status import COLORS, Phase, RolloutStatus


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: with 20 values, p99 is the largest (no interpolation)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_json(figures: dict[str, Any]) -> None:
    """The figures as one JSON object on the last line, for scripts and the smoke test."""
    print(json.dumps(figures), flush=True)


class LocalBench:
    """One named rollout of `serinus.demo.app` replicas behind its own HAProxy."""

    def __init__(
        self,
        name: str,
        *,
        replicas: int,
        strategy: dict[str, Any],
        startup_delay: float,
        deadline: float = 120.0,
    ) -> None:
        self.name = name
        self.replicas = replicas
        self.strategy = strategy
        self.startup_delay = startup_delay
        self.deadline = deadline
        self.port = free_port()
        self.stats_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.state_dir = Path(tempfile.mkdtemp(prefix="sb", dir="/tmp"))
        self.store = SqliteStateStore(self.state_dir / "state.db")
        self._router: TrafficRouter | None = None
        self._platform: Platform | None = None
        self._engine: Engine | None = None

    def rollout(self, version: str) -> Rollout:
        command = [sys.executable, "-m", "serinus.demo.app", "--port", "{port}"]
        command += ["--version", "{version}", "--startup-delay", str(self.startup_delay)]
        document = {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": self.name},
            "spec": {
                "version": version,
                "workload": {
                    "process": {
                        "command": command,
                        "replicas": self.replicas,
                        "readiness": {"path": "/healthz", "periodSeconds": 0.1},
                    }
                },
                "trafficRouting": {"haproxy": {"port": self.port, "statsPort": self.stats_port}},
                "strategy": self.strategy,
                "progressDeadlineSeconds": self.deadline,
            },
        }
        return validate_model(Rollout, document, f"benchmark rollout {self.name}")

    @property
    def engine(self) -> Engine:
        assert self._engine is not None, "call start() first"
        return self._engine

    async def start(self, version: str) -> RolloutStatus:
        """Build the adapters and deploy the first version (no rollout: nothing to replace)."""
        first = self.rollout(version)
        context = AdapterContext(rollout=first, state_dir=self.state_dir / "r")
        self._router, self._platform = build_router(context), build_platform(context)
        self._engine = Engine(self.store, self._router, self._platform)
        await self._router.prepare()
        return await self.roll_out(version)

    async def submit(self, version: str) -> None:
        await operations.submit(self.store, self.rollout(version))

    async def roll_out(
        self, version: str, on_update: Callable[[Reconciled], None] = lambda _: None
    ) -> RolloutStatus:
        """Submit `version` and drive the rollout until it ends; fail loudly if it failed."""
        await self.submit(version)
        return await self.drive(on_update)

    async def drive(
        self, on_update: Callable[[Reconciled], None] = lambda _: None
    ) -> RolloutStatus:
        # The same poll as `serinus run`, so the figures are what its users get.
        result = await drive(self.engine, self.name, on_update, poll=POLL_SECONDS)
        if result.status.phase is Phase.FAILED:
            raise RuntimeError(f"rollout {self.name} failed: {result.status.message}")
        return result.status

    async def __aenter__(self) -> LocalBench:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            if self._platform is not None:
                await asyncio.gather(*(self._platform.tear_down(color) for color in COLORS))
                await self._platform.close()
            if self._router is not None:
                stop = getattr(self._router, "stop", None)
                if stop is not None:
                    await stop()
                await self._router.close()
        finally:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def seconds_since(start: float) -> float:
    return round(time.monotonic() - start, 3)
