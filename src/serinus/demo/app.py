"""The demo service: a versioned HTTP app with injectable faults, used by `serinus demo`.

    python -m serinus.demo.app --port 8001 --version v2 \
        [--error-rates v3=0.2,v4=0.05] [--latency-ms v2=20] [--startup-delay 2]

`GET /` (any path but the two below) answers `{"version": ..., "replica": ..., "port": ...}` with
the header `X-Version`; for a version listed in `--error-rates`, that fraction of the answers are
500s, and `--latency-ms` delays the answers of the listed versions. `GET /healthz` answers 503
during `--startup-delay`, then 200, so a replica takes about that long to become ready.
`GET /metrics` exposes request counts by version and code and a latency histogram by version.

HTTP/1.1 keep-alive on a threading server sustains several hundred requests per second on one
core. On SIGTERM (or SIGINT) it stops accepting connections, closes idle keep-alive connections,
lets in-flight requests finish (answering them with `Connection: close`) and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
IDLE_KEEPALIVE_SECONDS = 60.0
DRAIN_SECONDS = 30.0
FRESH_CONNECTION_SECONDS = 2.0


def parse_per_version(text: str, option: str) -> dict[str, float]:
    """`v3=0.2,v4=0.05` -> {"v3": 0.2, "v4": 0.05}; an error names the option and the bad item."""
    values: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        version, sep, number = item.partition("=")
        if not sep or not version.strip():
            raise ValueError(f"{option}: expected VERSION=NUMBER, got {item!r}")
        try:
            value = float(number)
        except ValueError:
            raise ValueError(f"{option}: {number!r} is not a number (in {item!r})") from None
        if value < 0:
            raise ValueError(f"{option}: {item!r} is negative")
        values[version.strip()] = value
    return values


@dataclass(frozen=True)
class DemoConfig:
    port: int
    version: str
    replica: int = 0
    host: str = "127.0.0.1"
    error_rate: float = 0.0
    latency_seconds: float = 0.0
    startup_delay: float = 0.0
    seed: int | None = None


class DemoMetrics:
    """The app's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "demo_requests",
            "Requests to the demo service's application path, by version and status code.",
            ["version", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "demo_request_duration_seconds",
            "Time to answer a request to the application path, by version.",
            ["version"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "demo_requests_in_flight",
            "Requests to the application path being answered now, by version.",
            ["version"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class DemoServer(ThreadingHTTPServer):
    """A threading HTTP server that knows which connections are idle, to stop gracefully."""

    daemon_threads = True
    # SO_REUSEADDR (HTTPServer's default) ignores only TIME_WAIT leftovers on Linux: a port
    # another server listens on still fails, and the platform then retries on another port.
    allow_reuse_address = True
    allow_reuse_port = False

    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.metrics = DemoMetrics()
        self.ready_at = time.monotonic() + config.startup_delay
        self.stopping = False
        self._random = random.Random(config.seed)
        self._random_lock = threading.Lock()
        self._lock = threading.Lock()
        self._idle: dict[socket.socket, bool] = {}  # open connection -> waiting for a request
        self._all_closed = threading.Condition(self._lock)
        super().__init__((config.host, config.port), DemoHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # HAProxy's health checks close their connections with a reset: not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        super().handle_error(request, client_address)

    @property
    def started(self) -> bool:
        return time.monotonic() >= self.ready_at

    def should_fail(self) -> bool:
        if self.config.error_rate <= 0:
            return False
        with self._random_lock:
            return self._random.random() < self.config.error_rate

    def await_request(self, connection: socket.socket, fresh: bool) -> bool:
        """Whether to read another request on a connection (marked idle while it waits).

        Once stopping, a kept-alive connection is closed, but a fresh one (accepted just before
        the listening socket closed) still gets its first request answered.
        """
        with self._lock:
            if not self.stopping:
                self._idle[connection] = True
                return True
            if fresh:
                connection.settimeout(FRESH_CONNECTION_SECONDS)
                return True
            return False

    def connection_busy(self, connection: socket.socket) -> None:
        with self._lock:
            self._idle[connection] = False

    def connection_closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._idle.pop(connection, None)
            self._all_closed.notify_all()

    def stop_gracefully(self, drain_seconds: float = DRAIN_SECONDS) -> bool:
        """Stop accepting, close idle connections, wait for in-flight requests; True if drained."""
        self.shutdown()
        self.socket.close()
        with self._lock:
            self.stopping = True
            for connection, idle in self._idle.items():
                if idle:
                    # Wakes the handler blocked reading the next request line: it sees EOF.
                    _shutdown_reading(connection)
            return self._all_closed.wait_for(lambda: not self._idle, timeout=drain_seconds)


def _shutdown_reading(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer
        connection.shutdown(socket.SHUT_RD)


class DemoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_KEEPALIVE_SECONDS
    # Headers and body go out in two writes; with Nagle's algorithm the body waits for the
    # client's delayed ACK (~40 ms) on every keep-alive request.
    disable_nagle_algorithm = True
    server: DemoServer

    def setup(self) -> None:
        super().setup()
        self.requests_read = 0
        self.server.connection_busy(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.connection_closed(self.connection)

    def handle_one_request(self) -> None:
        if not self.server.await_request(self.connection, fresh=self.requests_read == 0):
            self.close_connection = True
            return
        self.requests_read += 1
        super().handle_one_request()

    def parse_request(self) -> bool:
        self.server.connection_busy(self.connection)
        return super().parse_request()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == HEALTH_PATH:
            self._health()
        elif path == METRICS_PATH:
            self._send(200, self.server.metrics.exposition(), CONTENT_TYPE_LATEST)
        else:
            self._application()

    def _health(self) -> None:
        if self.server.started:
            self._send_json(200, {"status": "ok", "version": self.server.config.version})
        else:
            self._send_json(503, {"status": "starting", "version": self.server.config.version})

    def _application(self) -> None:
        with self.server.metrics.in_flight.labels(
            version=self.server.config.version
        ).track_inprogress():
            self._answer()

    def _answer(self) -> None:
        config = self.server.config
        began = time.perf_counter()
        if not self.server.started:
            self._send_json(503, {"error": "starting", "version": config.version})
            return
        if config.latency_seconds > 0:
            time.sleep(config.latency_seconds)
        code = 500 if self.server.should_fail() else 200
        body: dict[str, object] = {
            "version": config.version,
            "replica": config.replica,
            "port": self.server.server_address[1],
        }
        if code != 200:
            body["error"] = "injected failure"
        self._send_json(code, body)
        metrics = self.server.metrics
        metrics.requests.labels(version=config.version, code=str(code)).inc()
        metrics.latency.labels(version=config.version).observe(time.perf_counter() - began)

    def _send_json(self, code: int, body: dict[str, object]) -> None:
        self._send(code, json.dumps(body).encode(), "application/json")

    def _send(self, code: int, payload: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Version", self.server.config.version)
        if self.server.stopping:
            self.send_header("Connection", "close")  # also sets close_connection
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Per-request access logs would fill the replica's log file; errors still go there."""

    def log_error(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} - {format % args}\n")


def build_config(argv: Sequence[str] | None = None) -> DemoConfig:
    parser = argparse.ArgumentParser(
        prog="python -m serinus.demo.app", description="serinus demo service"
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--replica",
        type=int,
        default=int(os.environ.get("SERINUS_REPLICA", "0")),
        help="replica index shown in answers (default: $SERINUS_REPLICA or 0)",
    )
    parser.add_argument("--error-rates", default="", help="VERSION=FRACTION,... of 500 answers")
    parser.add_argument("--latency-ms", default="", help="VERSION=MILLISECONDS,... added delay")
    parser.add_argument(
        "--startup-delay", type=float, default=0.0, help="seconds before /healthz answers 200"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the error injection")
    args = parser.parse_args(argv)
    try:
        error_rates = parse_per_version(args.error_rates, "--error-rates")
        latencies = parse_per_version(args.latency_ms, "--latency-ms")
    except ValueError as exc:
        parser.error(str(exc))
    if any(rate > 1 for rate in error_rates.values()):
        parser.error("--error-rates: a fraction must be between 0 and 1")
    if args.startup_delay < 0:
        parser.error("--startup-delay: must not be negative")
    return DemoConfig(
        port=args.port,
        version=args.version,
        replica=args.replica,
        host=args.host,
        error_rate=error_rates.get(args.version, 0.0),
        latency_seconds=latencies.get(args.version, 0.0) / 1000,
        startup_delay=args.startup_delay,
        seed=args.seed,
    )


def serve(config: DemoConfig) -> int:
    """Serve until SIGTERM/SIGINT, then drain; the exit code (0 when drained cleanly)."""
    try:
        server = DemoServer(config)
    except OSError as exc:
        print(f"demo app: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 3
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    loop.start()
    print(
        f"demo app {config.version} (replica {config.replica}) on "
        f"http://{config.host}:{config.port}/",
        file=sys.stderr,
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    drained = server.stop_gracefully()
    loop.join()
    print("demo app: stopped" + ("" if drained else " (connections still open)"), file=sys.stderr)
    return 0 if drained else 1


def main(argv: Sequence[str] | None = None) -> int:
    return serve(build_config(argv))


if __name__ == "__main__":
    sys.exit(main())
