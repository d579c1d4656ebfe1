"""A real Prometheus (Debian's 2.42) started for a test module, scraping one local target."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, start_http_server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningPrometheus:
    address: str
    process: subprocess.Popen[bytes]


def start_prometheus(directory: Path, scrape_port: int | None) -> RunningPrometheus:
    port = free_port()
    targets = f"""
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: ["127.0.0.1:{scrape_port}"]
"""
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        + (targets if scrape_port is not None else "")
    )
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((directory / "prometheus.log").read_text()[-2000:])
        try:
            if httpx.get(f"{address}/-/ready", timeout=1).status_code == 200:
                return RunningPrometheus(address, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_prometheus(process)
    raise RuntimeError("prometheus did not become ready in 20 s")


def stop_prometheus(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextmanager
def exporting(registry: CollectorRegistry, tick: Callable[[], None]) -> Iterator[int]:
    """Serve `registry` on a local /metrics port while `tick` runs every 0.05 s."""
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    stop = threading.Event()

    def serve() -> None:
        while not stop.wait(0.05):
            tick()

    ticker = threading.Thread(target=serve, daemon=True)
    ticker.start()
    try:
        yield int(server.server_port)
    finally:
        stop.set()
        ticker.join(5)
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def scraping(directory: Path, port: int, ready_query: str) -> Iterator[RunningPrometheus]:
    """A Prometheus scraping `port`, once `ready_query` has a sample (within 25 s)."""
    running = start_prometheus(directory, port)
    try:
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            reply = httpx.get(
                f"{running.address}/api/v1/query", params={"query": ready_query}, timeout=2
            ).json()
            if reply["data"]["result"]:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("no sample became queryable in 25 s")
        yield running
    finally:
        stop_prometheus(running.process)
