"""An in-memory Platform: the fake for engine tests, passing the same contract as the real ones.

Replicas live in a `MemoryWorld`, not in the platform, so they outlive a closed `MemoryPlatform`
the way processes outlive `serinus run`: a new platform on the same world adopts them. A replica
becomes ready after `observes_until_ready` observations; a version marked failing never does
and its color reports the reason. Tests can crash replicas (they restart, like real ones) and
count how many replicas were ever started, to prove that nothing was provisioned twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from serinus.adapters.platforms.arguments import check_ensure_arguments
from serinus.core.errors import InvalidInput
from serinus.core.status import COLORS, Color, ColorState, Endpoint

LOOPBACK = "127.0.0.1"
FIRST_PORT = 30_000


@dataclass
class _FakeReplica:
    port: int
    observes_left: int


@dataclass
class _FakeColor:
    version: str
    desired: int
    replicas: dict[int, _FakeReplica] = field(default_factory=dict)


class MemoryWorld:
    """The fake machine the replicas run on; shared by every MemoryPlatform opened on it."""

    def __init__(
        self,
        *,
        observes_until_ready: int = 1,
        failing_versions: Mapping[str, str] | None = None,
    ) -> None:
        if observes_until_ready < 0:
            raise InvalidInput(
                [f"observes_until_ready: must be >= 0 (got {observes_until_ready})"],
                source="memory platform",
            )
        self.observes_until_ready = observes_until_ready
        self.failing_versions: dict[str, str] = dict(failing_versions or {})
        self.colors: dict[Color, _FakeColor] = {}
        self.starts = 0  # replicas ever started (restarts included)
        self.stops = 0
        self.restarts = 0
        self._next_port = FIRST_PORT

    def fail_version(self, version: str, reason: str = "command exited with code 1") -> None:
        """From now on, replicas of `version` cannot run; their color reports `reason`."""
        self.failing_versions[version] = reason

    def crash(self, color: Color, replica: int) -> None:
        """The replica's process ends; the platform starts it again (new port, not ready)."""
        current = self.colors[color]
        if replica not in current.replicas:
            raise InvalidInput([f"replica: {color} has no replica {replica}"], "memory platform")
        current.replicas[replica] = self._new_replica()
        self.restarts += 1

    def _new_replica(self) -> _FakeReplica:
        self.starts += 1
        self._next_port += 1
        return _FakeReplica(port=self._next_port, observes_left=self.observes_until_ready)


class MemoryPlatform:
    """Implements the `Platform` port over a `MemoryWorld` (a new one unless given)."""

    def __init__(self, world: MemoryWorld | None = None) -> None:
        self.world = world or MemoryWorld()
        self.closed = False

    async def ensure(self, color: Color, version: str, replicas: int) -> None:
        check_ensure_arguments(color, version, replicas, "memory platform")
        world = self.world
        current = world.colors.get(color)
        if current is not None and current.version != version:
            world.stops += len(current.replicas)
            current = None
        if current is None:
            current = world.colors[color] = _FakeColor(version=version, desired=replicas)
        for index in [i for i in current.replicas if i >= replicas]:
            del current.replicas[index]
            world.stops += 1
        current.desired = replicas
        if version not in world.failing_versions:
            for index in range(replicas):
                if index not in current.replicas:
                    current.replicas[index] = world._new_replica()

    async def observe(self) -> dict[Color, ColorState]:
        states = {}
        for color, current in self.world.colors.items():
            failure = self.world.failing_versions.get(current.version)
            endpoints = []
            for index, replica in sorted(current.replicas.items()):
                replica.observes_left = max(0, replica.observes_left - 1)
                ready = failure is None and replica.observes_left == 0
                endpoints.append(
                    Endpoint(host=LOOPBACK, port=replica.port, ready=ready, replica=index)
                )
            states[color] = ColorState(
                version=current.version,
                desired=current.desired,
                ready=sum(e.ready for e in endpoints),
                endpoints=endpoints,
                failure=failure,
            )
        return states

    async def tear_down(self, color: Color) -> None:
        current = self.world.colors.pop(color, None)
        if current is not None:
            self.world.stops += len(current.replicas)

    async def close(self) -> None:
        self.closed = True  # the replicas keep "running" in the world

    async def tear_down_all(self) -> None:
        for color in COLORS:
            await self.tear_down(color)
