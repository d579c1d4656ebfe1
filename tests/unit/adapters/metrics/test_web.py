"""The web provider against a real local HTTP server."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from serinus.adapters.metrics.web import WebProvider
from serinus.core.analysis.spec import WebSource
from serinus.core.errors import MetricsError

# path -> (status, body); "/slow" sleeps past the client's timeout, "/echo" returns the request
ROUTES: dict[str, tuple[int, str]] = {
    "/status": (200, json.dumps({"data": {"ok": True, "rate": 0.995, "p95": "0.25"}})),
    "/series": (200, json.dumps({"series": [{"v": 1}, {"v": 2.5}, {"v": None}]})),
    "/nested": (200, json.dumps({"data": {"obj": {"a": 1}, "word": "high"}})),
    "/number": (200, "0.75"),
    "/down": (503, "service unavailable"),
    "/html": (200, "<html>not json</html>"),
}


class _Handler(BaseHTTPRequestHandler):
    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path == "/slow":
            time.sleep(1.0)
            status, text = 200, "1"
        elif self.path == "/echo":
            status = 200
            text = json.dumps(
                {"method": self.command, "auth": self.headers.get("X-Token"), "body": body}
            )
        else:
            status, text = ROUTES.get(self.path, (404, "no such path"))
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError):  # the client gave up (the timeout test)
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _reply

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def source(url: str, **fields: Any) -> WebSource:
    return WebSource.model_validate({"url": url, **fields})


@pytest.mark.parametrize(
    ("path", "json_path", "expected"),
    [
        ("/status", "$.data.rate", [0.995]),
        ("/status", "{$.data.ok}", [1.0]),  # kubectl-style braces, booleans as 1/0
        ("/status", "$.data.p95", [0.25]),  # numbers sent as strings
        ("/series", "$.series[*].v", [1.0, 2.5, math.nan]),  # null is NaN: no data
        ("/series", "$.series[1].v", [2.5]),
        ("/series", "$.series[*].absent[*]", None),  # nothing selected: an error
        ("/number", "$", [0.75]),
    ],
)
async def test_extracts_numbers(
    server: str, path: str, json_path: str, expected: list[float] | None
) -> None:
    if expected is None:
        with pytest.raises(MetricsError, match="selects nothing"):
            await WebProvider().measure(source(server + path, jsonPath=json_path))
        return
    values = await WebProvider().measure(source(server + path, jsonPath=json_path))
    assert len(values) == len(expected)
    for got, want in zip(values, expected, strict=True):
        assert (math.isnan(got) and math.isnan(want)) or got == want


async def test_sends_method_headers_and_body(server: str) -> None:
    # the echo reply is an object, so the path selects one of its fields after a POST
    provider = WebProvider()
    echoed = source(
        server + "/echo",
        method="POST",
        headers=[{"key": "X-Token", "value": "42"}],
        body='{"q": 1}',
        jsonPath="$.auth",
    )
    assert await provider.measure(echoed) == [42.0]


@pytest.mark.parametrize(
    ("path", "json_path", "message"),
    [
        ("/down", "$", "HTTP 503, not a success"),
        ("/nowhere", "$", "HTTP 404, not a success"),
        ("/html", "$", "HTTP 200, the reply is not JSON"),
        ("/nested", "$.data.obj", "selects a dict, not numbers"),
        ("/nested", "$.data.word", "selects a string that is not a number"),
        ("/status", "$.data.missing", "selects nothing: no key 'missing'"),
    ],
)
async def test_bad_replies_are_metrics_errors(
    server: str, path: str, json_path: str, message: str
) -> None:
    with pytest.raises(MetricsError) as caught:
        await WebProvider().measure(source(server + path, jsonPath=json_path))
    assert message in str(caught.value) and path in str(caught.value)
    for leaked in ("unavailable", "no such path", "<html>", "high"):
        assert leaked not in str(caught.value)  # nothing of the reply body


async def test_timeout_is_a_metrics_error(server: str) -> None:
    with pytest.raises(MetricsError, match=r"no answer within 0\.2s"):
        await WebProvider().measure(source(server + "/slow", timeout=0.2))


async def test_unreachable_server_is_a_metrics_error(server: str) -> None:
    with pytest.raises(MetricsError, match=r"cannot connect \(ConnectError\)"):
        await WebProvider().measure(source("http://127.0.0.1:9/x"))
