"""Tiny in-process HTTP backends for HAProxy tests: each answers `<color>-<index>` to anything.

Threads running http.server on port 0, HTTP/1.1 keep-alive; independent of the demo app.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from serinus.core.status import COLORS, Color, Endpoint

requires_haproxy = pytest.mark.skipif(
    shutil.which("haproxy") is None,
    reason="HAProxy is not installed: install the Debian package 'haproxy' "
    "(apt-get install haproxy)",
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Health checks hang up without reading the answer: not worth a traceback."""


def _handler(answer: str) -> type[BaseHTTPRequestHandler]:
    body = answer.encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class Backends:
    """`count` backends per color, answering `<color>-<index>`."""

    def __init__(self, count: int) -> None:
        self.servers: dict[Color, list[_Server]] = {
            color: [_Server(("127.0.0.1", 0), _handler(f"{color}-{i}")) for i in range(count)]
            for color in COLORS
        }
        self.threads = [
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            for servers in self.servers.values()
            for server in servers
        ]

    def endpoints(self, color: Color, ready: bool = True) -> list[Endpoint]:
        return [
            Endpoint(host="127.0.0.1", port=server.server_address[1], ready=ready, replica=i)
            for i, server in enumerate(self.servers[color])
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        for servers in self.servers.values():
            for server in servers:
                server.shutdown()
                server.server_close()


@contextmanager
def running_backends(count: int) -> Iterator[Backends]:
    backends = Backends(count)
    backends.start()
    try:
        yield backends
    finally:
        backends.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
