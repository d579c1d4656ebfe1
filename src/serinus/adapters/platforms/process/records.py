"""What the process platform remembers about its replicas, one JSON file per color.

The files let a new platform (a restarted `serinus run`) adopt the replicas a previous one
started instead of provisioning them again. They are replaced atomically (write a temporary
file, then `os.replace`), so a kill at any moment leaves either the old or the new content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serinus.adapters.private import write_private
from serinus.core.errors import PlatformError
from serinus.core.status import COLORS, Color

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ReplicaRecord:
    """One replica slot; `pid`/`create_time` identify its current process (None: not running)."""

    replica: int
    pid: int | None = None
    create_time: float | None = None
    port: int | None = None
    restarts: int = 0
    ready_once: bool = False  # the current process has passed readiness (and warm-up) once
    warmed: bool = False
    failures_in_a_row: int = 0  # processes of this slot that exited before ever being ready
    last_exit: str | None = None  # how its last process ended, with the end of its log

    def for_storage(self) -> dict[str, Any]:
        return {
            "replica": self.replica,
            "pid": self.pid,
            "createTime": self.create_time,
            "port": self.port,
            "restarts": self.restarts,
            "readyOnce": self.ready_once,
            "warmed": self.warmed,
            "failuresInARow": self.failures_in_a_row,
            "lastExit": self.last_exit,
        }

    @classmethod
    def from_storage(cls, data: dict[str, Any]) -> ReplicaRecord:
        return cls(
            replica=int(data["replica"]),
            pid=_optional_int(data.get("pid")),
            create_time=_optional_float(data.get("createTime")),
            port=_optional_int(data.get("port")),
            restarts=int(data.get("restarts", 0)),
            ready_once=bool(data.get("readyOnce", False)),
            warmed=bool(data.get("warmed", False)),
            failures_in_a_row=int(data.get("failuresInARow", 0)),
            last_exit=data.get("lastExit"),
        )


@dataclass(frozen=True)
class ColorRecord:
    rollout: str
    color: Color
    version: str
    replicas: int
    members: tuple[ReplicaRecord, ...]
    # Written before its processes are stopped: a restarted platform finishes stopping them
    # and never starts this version again.
    retiring: bool = False

    def for_storage(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "rollout": self.rollout,
            "color": self.color,
            "version": self.version,
            "replicas": self.replicas,
            "members": [member.for_storage() for member in self.members],
            "retiring": self.retiring,
        }

    @classmethod
    def from_storage(cls, data: dict[str, Any]) -> ColorRecord:
        color = data["color"]
        if color not in COLORS:
            raise ValueError(f"color: unknown color {color!r}")
        return cls(
            rollout=str(data["rollout"]),
            color=color,
            version=str(data["version"]),
            replicas=int(data["replicas"]),
            members=tuple(ReplicaRecord.from_storage(m) for m in data.get("members", [])),
            retiring=bool(data.get("retiring", False)),
        )


class RecordFiles:
    """`<state_dir>/<color>.json` for the colors of one rollout."""

    def __init__(self, state_dir: Path, rollout: str) -> None:
        self.state_dir = state_dir
        self.rollout = rollout

    def path(self, color: Color) -> Path:
        return self.state_dir / f"{color}.json"

    def load(self, color: Color) -> ColorRecord | None:
        path = self.path(color)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            record = ColorRecord.from_storage(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise PlatformError(f"process platform: unreadable state file {path}: {exc}") from exc
        if record.rollout != self.rollout:
            raise PlatformError(
                f"process platform: state directory {self.state_dir} belongs to rollout "
                f"{record.rollout!r}, not {self.rollout!r}; give each rollout its own directory"
            )
        return record

    def save(self, record: ColorRecord) -> None:
        path = self.path(record.color)
        # atomic: readers see the old or the new file
        write_private(path, json.dumps(record.for_storage(), indent=1))

    def delete(self, color: Color) -> None:
        self.path(color).unlink(missing_ok=True)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
