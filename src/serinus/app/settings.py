"""Where the local mode keeps its state, from the environment or the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE_DIR_ENV = "SERINUS_STATE_DIR"


def default_state_dir() -> Path:
    if configured := os.environ.get(STATE_DIR_ENV):
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "serinus"


@dataclass(frozen=True)
class LocalSettings:
    state_dir: Path

    @property
    def database(self) -> Path:
        return self.state_dir / "serinus.db"

    def rollout_dir(self, name: str) -> Path:
        return self.state_dir / "rollouts" / name
