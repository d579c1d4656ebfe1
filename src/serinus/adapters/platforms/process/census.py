"""Finding a platform's replica processes in the process table, whatever its records say.

Every replica is started with environment markers (`MARKER`: the platform's state directory,
plus `SERINUS_ROLLOUT`, `SERINUS_COLOR`, `SERINUS_VERSION`, `SERINUS_REPLICA`, `SERINUS_PORT`)
and as the leader of its own process group. A kill of serinus between starting a process and
recording it, or a removed state directory, therefore loses nothing: `find_replicas` lists the
group leaders carrying the markers of one state directory and rollout, so the platform can
adopt them or stop them. Children of a replica (a shell's) inherit the markers but are not
group leaders; they go with their group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from serinus.core.status import COLORS, Color

MARKER = "SERINUS_STATE_DIR"


@dataclass(frozen=True)
class FoundReplica:
    pid: int
    create_time: float
    color: Color
    version: str
    replica: int
    port: int


def markers(
    state_dir: Path, rollout: str, color: Color, version: str, replica: int, port: int
) -> dict[str, str]:
    return {
        MARKER: str(state_dir.absolute()),
        "SERINUS_ROLLOUT": rollout,
        "SERINUS_COLOR": color,
        "SERINUS_VERSION": version,
        "SERINUS_REPLICA": str(replica),
        "SERINUS_PORT": str(port),
    }


def find_replicas(state_dir: Path, rollout: str) -> list[FoundReplica]:
    """The live replica processes started for `rollout` from `state_dir`, oldest first."""
    wanted = str(state_dir.absolute())
    found: list[FoundReplica] = []
    for process in psutil.process_iter(["pid", "create_time", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if os.getpgid(process.pid) != process.pid:
                continue  # not a group leader: a child of a replica, or not ours at all
            env = process.environ()
        except (psutil.Error, OSError):
            continue  # gone meanwhile, or another user's
        if env.get(MARKER) != wanted or env.get("SERINUS_ROLLOUT") != rollout:
            continue
        replica = _parse(process.pid, float(process.info["create_time"]), env)
        if replica is not None:
            found.append(replica)
    return sorted(found, key=lambda r: r.create_time)


def _parse(pid: int, create_time: float, env: dict[str, str]) -> FoundReplica | None:
    color = next((c for c in COLORS if c == env.get("SERINUS_COLOR")), None)
    version = env.get("SERINUS_VERSION")
    try:
        replica, port = int(env.get("SERINUS_REPLICA", "")), int(env.get("SERINUS_PORT", ""))
    except ValueError:
        return None
    if color is None or version is None:
        return None
    return FoundReplica(pid, create_time, color, version, replica, port)
