"""A local state folder filled with rollouts in chosen states, and the `serinus` command run on
it in-process (typer's CliRunner): CLI tests without a driver, HAProxy or a terminal."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app.settings import LocalSettings
from serinus.core.documents import load_rollout
from serinus.core.events import Event
from serinus.core.intents import Intent
from serinus.core.status import RolloutStatus


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps to the terminal's width (80 without one, as in CI, or whatever COLUMNS said
    when the console was made, as under xdist): tests read whole lines."""
    from serinus.entrypoints.cli import output

    monkeypatch.setenv("COLUMNS", "250")
    for console in (output.console, output.err_console):
        monkeypatch.setattr(console, "width", 250)


def rollout_yaml(name: str = "web", version: str = "v2", steps: str | None = None) -> str:
    steps = (
        steps
        or """
        - setWeight: 10
        - judgement: {instructions: "check the dashboards", timeout: 30m}
        - pause: {duration: 5m}
        - setWeight: 100"""
    )
    return f"""
apiVersion: serinus.io/v1alpha1
kind: Rollout
metadata: {{name: {name}}}
spec:
  version: {version}
  workload: {{process: {{command: [sleep, "1000"], replicas: 3}}}}
  trafficRouting: {{haproxy: {{port: 18080}}}}
  strategy:
    blueGreenCanary:
      steps: {steps}
"""


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


class State:
    """One state folder: `put` records a rollout as a driver would have left it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.database = LocalSettings(folder).database

    def put(
        self,
        status: RolloutStatus | None,
        *,
        name: str = "web",
        version: str = "v2",
        steps: str | None = None,
        events: Sequence[Event] = (),
        intents: Sequence[Intent] = (),
    ) -> None:
        async def work() -> None:
            store = SqliteStateStore(self.database)
            try:
                await store.submit(load_rollout(rollout_yaml(name, version, steps), "test"))
                recorded = [await store.record_intent(name, i) for i in intents]
                if status is not None:
                    done = [i for i, asked in zip(recorded, intents, strict=True) if asked.outcome]
                    outcomes = {i.id: a.outcome for i, a in zip(recorded, intents, strict=True)}
                    consumed = [i.model_copy(update={"outcome": outcomes[i.id]}) for i in done]
                    await store.save(name, status, events, consumed)
            finally:
                await store.close()

        asyncio.run(work())

    def cli(self, *args: str, env: dict[str, Any] | None = None) -> Result:
        from serinus.entrypoints.cli import main

        arguments = ["--state-dir", str(self.folder), *args]
        done = CliRunner().invoke(main.app, arguments, env={"COLUMNS": "200", **(env or {})})
        if done.exception is not None and not isinstance(done.exception, SystemExit):
            raise done.exception
        return Result(done.exit_code, done.stdout, done.stderr)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    yield State(tmp_path / "state")
