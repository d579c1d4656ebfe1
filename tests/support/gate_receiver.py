"""A real local HTTP receiver for webhook gates: verifies the HMAC, answers as a test tells it.

Runs a stdlib ThreadingHTTPServer on 127.0.0.1 in a background thread. `answer` is the status
code it returns (`answers` overrides it by request path; 401 instead when a key is set and the
signature does not verify), `delay` how long it takes to answer; every request is recorded with
its headers and raw body.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from serinus.adapters.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

LEAK = "receiver-secret-text"  # written in every answer body: must never reach serinus's output


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool

    @property
    def document(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    answer: int = 200
    answers: dict[str, int] = field(default_factory=dict)  # by request path, over `answer`
    delay: float = 0.0
    secret: str | None = None
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def calls(self, path: str = "") -> list[Received]:
        return [r for r in self.requests if r.path.startswith(path)]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            signed = receiver.secret is None or verify_signature(
                receiver.secret,
                body,
                self.headers.get(TIMESTAMP_HEADER, ""),
                self.headers.get(SIGNATURE_HEADER, ""),
                now=time.time(),
            )
            receiver.requests.append(Received(self.path, dict(self.headers), body, signed))
            if receiver.delay:
                time.sleep(receiver.delay)  # the slow receiver under test, not a test's wait
            code = receiver.answers.get(self.path, receiver.answer) if signed else 401
            payload = json.dumps({"message": LEAK}).encode()
            try:
                self.send_response(code)
                self.send_header("X-Leak", LEAK)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the caller gave up (timeout) and closed the connection
                pass

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def receiving(**settings: Any) -> Iterator[Receiver]:
    receiver = Receiver(**settings)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
