"""A private Prometheus for the demo and the analysis tests: Debian's `prometheus`, started here.

It scrapes every second (1) HAProxy's exporter, whose per-server counters are labelled by color
(`server="blue-0"`), and (2) the demo replicas, whose ports change with every version: they are
listed in a `file_sd_configs` targets file that `write_targets` rewrites from the platform's
observed endpoints (Prometheus re-reads the file when it changes). The replicas are scraped
because HAProxy's exporter cannot answer the analysis' questions alone: it has no latency
histogram (so no p95), and it counts per server slot, i.e. per color, which successive versions
reuse; the replicas label everything by version. HAProxy's exporter stays scraped as the view
of what clients got, and as the proof that Prometheus is up.

The process gets SIGTERM when the process that started it dies (Linux `PR_SET_PDEATHSIG`), so a
demo killed with SIGKILL leaves no Prometheus behind; `stop` ends it cleanly otherwise.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from serinus.core.errors import DependencyError
from serinus.core.status import Color, ColorState

BINARY = "prometheus"
SCRAPE_INTERVAL = "1s"
TARGETS_FILE = "replicas.json"
_PR_SET_PDEATHSIG = 1


def available() -> bool:
    return shutil.which(BINARY) is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def scrape_config(haproxy_metrics: str, targets_file: Path) -> dict[str, object]:
    """The configuration: HAProxy's exporter (`host:port`) and the replicas from the file."""
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "scrape_configs": [
            {"job_name": "haproxy", "static_configs": [{"targets": [haproxy_metrics]}]},
            {
                "job_name": "replicas",
                "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "5s"}],
            },
        ],
    }


def replica_targets(colors: Mapping[Color, ColorState]) -> list[dict[str, object]]:
    """file_sd entries for every color that runs a version (labels say which)."""
    groups: list[dict[str, object]] = []
    for color, state in sorted(colors.items()):
        if state.version is None or not state.endpoints:
            continue
        groups.append(
            {
                "targets": [f"{e.host}:{e.port}" for e in state.endpoints],
                "labels": {"color": color, "serinus_version": state.version},
            }
        )
    return groups


@dataclass
class PrometheusServer:
    """One Prometheus process with its configuration and data under `folder`."""

    folder: Path
    haproxy_metrics: str  # host:port of HAProxy's exporter
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _targets: str = field(default="", repr=False)

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def targets_file(self) -> Path:
        return self.folder / TARGETS_FILE

    def start(self) -> None:
        """Start the process (returns at once; `wait_until_scraped` waits for data)."""
        if not available():
            raise DependencyError(f"{BINARY} is not installed (Debian: apt-get install prometheus)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or _free_port()
        self.write_targets({})
        config = self.folder / "prometheus.yml"
        config.write_text(yaml.safe_dump(scrape_config(self.haproxy_metrics, self.targets_file)))
        log = (self.folder / "prometheus.log").open("wb")
        with log:
            self.process = subprocess.Popen(
                [
                    BINARY,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1h",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # only sets the death signal, no locks taken
            )

    def write_targets(self, colors: Mapping[Color, ColorState]) -> None:
        """Rewrite the replicas' targets file when they changed (atomically: Prometheus may be
        reading it)."""
        text = json.dumps(replica_targets(colors), sort_keys=True)
        if text == self._targets:
            return
        partial = self.targets_file.with_suffix(".tmp")
        partial.write_text(text)
        partial.replace(self.targets_file)
        self._targets = text

    async def query(self, promql: str) -> list[dict[str, object]]:
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            response = await client.get(f"{self.address}/api/v1/query", params={"query": promql})
        body = response.json()
        if body.get("status") != "success":
            raise DependencyError(f"prometheus query {promql!r} failed: {body.get('error')}")
        result: list[dict[str, object]] = body["data"]["result"]
        return result

    async def wait_until_scraped(
        self, query: str = 'up{job="haproxy"} == 1', timeout: float = 30.0
    ) -> None:
        """Until `query` has a sample (by default: HAProxy's exporter was scraped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise DependencyError(
                    f"prometheus exited with status {self.process.returncode}; see "
                    f"{self.folder / 'prometheus.log'}"
                )
            try:
                if await self.query(query):
                    return
            except (httpx.HTTPError, ValueError, DependencyError):
                pass  # not listening yet
            await asyncio.sleep(0.25)
        raise DependencyError(f"prometheus at {self.address}: no sample of {query} in {timeout:g}s")

    def stop(self, grace: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
