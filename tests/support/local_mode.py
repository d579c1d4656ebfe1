"""Driving the real `serinus` command in the local mode from tests: files, processes, waiting.

`local_mode()` ends by checking that nothing serinus started under its folder still runs (the
replicas, HAProxy, a `serinus run` or `serve`): a test that leaves a process behind fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from leftovers import check_none_left

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.core.status import Phase, RolloutStatus

SERINUS = [sys.executable, "-m", "serinus.entrypoints.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_STATS_PORTS: dict[int, int] = {}


def stats_port_for(port: int) -> int:
    """One stats port per frontend port, so each version's spec keeps HAProxy's layout (a
    layout change reloads HAProxy, and a reload closes idle keep-alive client connections)."""
    return _STATS_PORTS.setdefault(port, free_port())


def rollout_document(
    version: str,
    port: int,
    *,
    name: str = "web",
    replicas: int = 2,
    steps: list[dict[str, Any]] | None = None,
    command: list[str] | None = None,
    deadline: float = 30,
    extra_app_args: Iterable[str] = (),
) -> dict[str, Any]:
    app = command or [
        sys.executable, "-m", "serinus.demo.app", "--port", "{port}", "--version", "{version}",
        "--startup-delay", "0.2", *extra_app_args,
    ]  # fmt: skip
    return {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "version": version,
            "workload": {"process": {"command": app, "replicas": replicas}},
            "trafficRouting": {"haproxy": {"port": port, "statsPort": stats_port_for(port)}},
            "strategy": {
                "blueGreenCanary": {
                    "steps": steps if steps is not None else [{"setWeight": 10}, {"pause": {}}],
                    "scaleDownDelay": 1,
                    "abortScaleDownDelay": 1,
                }
            },
            "progressDeadlineSeconds": deadline,
        },
    }


class LocalMode:
    """One state directory and the `serinus` processes working on it."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.env = {**os.environ, "SERINUS_STATE_DIR": str(state_dir), "COLUMNS": "200"}
        self.runs: list[subprocess.Popen[str]] = []
        self.logs: list[Path] = []

    def write(self, document: dict[str, Any], file: str = "rollout.yaml") -> Path:
        path = self.state_dir.parent / file
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SERINUS, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def start_run(self, file: Path) -> subprocess.Popen[str]:
        # Output goes to a file: a pipe nobody reads would block a chatty run.
        log = self.state_dir.parent / f"run-{len(self.runs)}.log"
        with log.open("w") as sink:
            process = subprocess.Popen(
                [*SERINUS, "run", str(file), "--plain"],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.runs.append(process)
        self.logs.append(log)
        return process

    def output(self, process: subprocess.Popen[str]) -> str:
        return self.logs[self.runs.index(process)].read_text()

    def status(self, name: str = "web") -> RolloutStatus | None:
        async def load() -> RolloutStatus | None:
            store = SqliteStateStore(self.state_dir / "serinus.db")
            try:
                return await store.load(name)
            finally:
                await store.close()

        if not (self.state_dir / "serinus.db").exists():
            return None
        return asyncio.run(load())

    def wait_for(
        self, phases: set[Phase], name: str = "web", timeout: float = 60, version: str | None = None
    ) -> RolloutStatus:
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self.status(name)
            if status is not None and status.phase in phases:
                revision = status.canary or status.stable
                if version is None or (revision is not None and revision.version == version):
                    return status
            time.sleep(0.1)
        ended = [
            f"serinus run exited {run.returncode}:\n{self.output(run)}"
            for run in self.runs
            if run.poll() is not None
        ]
        raise AssertionError(f"timed out waiting for {phases}; last status: {status}\n{ended}")

    def finish(self, process: subprocess.Popen[str], timeout: float = 60) -> str:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"serinus run did not finish:\n{self.output(process)}") from exc
        return self.output(process)

    def cleanup(self, name: str = "web") -> str:
        """Kill the runs still going and `serinus delete` the rollout; what delete said when it
        failed (an unknown rollout, one never submitted, is not a failure)."""
        for run in self.runs:
            if run.poll() is None:
                run.send_signal(signal.SIGKILL)
                run.wait()
        if not (self.state_dir / "serinus.db").exists():
            return ""
        deleted = self.cli("delete", name)
        said = (deleted.stdout + deleted.stderr).strip()
        if deleted.returncode == 0 or f"rollout {name!r} not found" in said:
            return ""
        return f"serinus delete {name} (exited {deleted.returncode}: {said})"


@contextmanager
def local_mode(names: Iterable[str] = ("web",)) -> Iterator[LocalMode]:
    """A fresh state folder; after, its runs killed, every rollout in `names` deleted, and an
    AssertionError if any process serinus started under the folder still runs (then killed)."""
    # A short folder keeps HAProxy's admin socket path readable (HAProxy allows 97 characters).
    folder = Path(tempfile.mkdtemp(prefix="se", dir="/tmp"))
    mode = LocalMode(folder / "state")
    try:
        yield mode
    finally:
        try:
            failed = [said for name in names if (said := mode.cleanup(name))]
            check_none_left(folder, "; ".join(failed) or "serinus delete")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
