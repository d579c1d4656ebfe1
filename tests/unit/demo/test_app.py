"""The demo app: answers with its version, injects faults, exposes metrics, stops gracefully."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from serinus.demo.app import DemoConfig, DemoServer, build_config, parse_per_version

Serve = Callable[..., str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start demo servers in threads of this process (port 0: a free one); stop them after."""
    servers: list[tuple[DemoServer, threading.Thread]] = []

    def start(**fields: Any) -> str:
        server = DemoServer(DemoConfig(**{"port": 0, "version": "v1", **fields}))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    try:
        yield start
    finally:
        for server, thread in servers:
            server.stop_gracefully(drain_seconds=5)
            thread.join()


def metric_samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_per_version_options_are_parsed() -> None:
    assert parse_per_version("v3=0.2, v4=0.05,", "--error-rates") == {"v3": 0.2, "v4": 0.05}
    assert parse_per_version("", "--latency-ms") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v3", "--error-rates: expected VERSION=NUMBER, got 'v3'"),
        ("=0.2", "--error-rates: expected VERSION=NUMBER"),
        ("v3=lots", "--error-rates: 'lots' is not a number"),
        ("v3=-1", "--error-rates: 'v3=-1' is negative"),
    ],
)
def test_bad_per_version_options_are_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_per_version(text, "--error-rates")


def test_a_version_gets_only_its_own_faults() -> None:
    config = build_config(
        ["--port", "1", "--version", "v3", "--error-rates", "v3=0.2,v4=0.5", "--latency-ms", "v2=9"]
    )
    assert (config.error_rate, config.latency_seconds) == (0.2, 0.0)
    config = build_config(["--port", "1", "--version", "v2", "--latency-ms", "v2=20"])
    assert (config.error_rate, config.latency_seconds) == (0.0, 0.02)


def test_an_error_rate_above_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_config(["--port", "1", "--version", "v3", "--error-rates", "v3=2"])
    assert "--error-rates: a fraction must be between 0 and 1" in capsys.readouterr().err


def test_it_answers_with_its_version_over_keep_alive(serve: Serve) -> None:
    base = serve(version="v7", replica=2)
    with httpx.Client(trust_env=False) as client:
        answers = [client.get(f"{base}/") for _ in range(50)]
    assert {a.status_code for a in answers} == {200}
    assert {a.headers["x-version"] for a in answers} == {"v7"}
    body = answers[0].json()
    assert (body["version"], body["replica"]) == ("v7", 2)
    assert body["port"] == int(base.rsplit(":", 1)[1])
    assert all(int(a.headers["content-length"]) == len(a.content) for a in answers)


def test_it_is_not_ready_during_its_startup_delay(serve: Serve) -> None:
    starting = serve(startup_delay=600)
    started = serve()
    assert httpx.get(f"{starting}/healthz", trust_env=False).status_code == 503
    assert httpx.get(f"{starting}/", trust_env=False).status_code == 503
    assert httpx.get(f"{started}/healthz", trust_env=False).status_code == 200


def test_the_error_rate_is_about_the_one_asked_for(serve: Serve) -> None:
    base = serve(version="v3", error_rate=0.2, seed=7)
    with httpx.Client(trust_env=False) as client:
        codes = [client.get(f"{base}/").status_code for _ in range(2000)]
    assert set(codes) == {200, 500}
    assert codes.count(500) / len(codes) == pytest.approx(0.2, abs=0.03)


def test_metrics_count_answers_by_version_and_code(serve: Serve) -> None:
    base = serve(version="v3", error_rate=0.5, seed=3)
    with httpx.Client(trust_env=False) as client:
        codes = [client.get(f"{base}/").status_code for _ in range(40)]
        client.get(f"{base}/healthz")  # not an application request
        text = client.get(f"{base}/metrics").text
    counts = metric_samples(text, "demo_requests_total")
    assert counts == {
        (("code", "200"), ("version", "v3")): codes.count(200),
        (("code", "500"), ("version", "v3")): codes.count(500),
    }
    assert metric_samples(text, "demo_request_duration_seconds_count") == {(("version", "v3"),): 40}


def _in_flight(base: str) -> float:
    text = httpx.get(f"{base}/metrics", trust_env=False).text
    return sum(metric_samples(text, "demo_requests_in_flight").values())


def test_sigterm_finishes_in_flight_requests_then_exits_zero() -> None:
    with _free_port_app("--latency-ms", "v1=3000") as (app, base):
        with ThreadPoolExecutor(4) as pool:
            in_flight = [pool.submit(httpx.get, f"{base}/", trust_env=False) for _ in range(4)]
            deadline = time.monotonic() + 30
            while _in_flight(base) < 4:  # every request is being answered: now stop the app
                assert time.monotonic() < deadline, "the 4 requests never reached the app"
            app.send_signal(signal.SIGTERM)
            answers = [future.result() for future in in_flight]
        assert [a.status_code for a in answers] == [200] * 4
        assert all(a.headers["connection"] == "close" for a in answers)
        assert app.wait(timeout=10) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/", trust_env=False)


def test_sigterm_closes_idle_keep_alive_connections() -> None:
    with _free_port_app() as (app, base), httpx.Client(trust_env=False) as client:
        assert client.get(f"{base}/").status_code == 200  # leaves an idle connection open
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=10) == 0


def test_a_port_in_use_is_reported() -> None:
    with _free_port_app() as (_, base):
        port = base.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "serinus.demo.app", "--port", port, "--version", "v1"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert second.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in second.stderr


class _free_port_app:
    """The app as a real process (signals need one) on a port it found free, ready to serve."""

    def __init__(self, *extra: str) -> None:
        self.extra = extra

    def __enter__(self) -> tuple[subprocess.Popen[str], str]:
        for _ in range(5):
            port = _free_port()
            command = [sys.executable, "-m", "serinus.demo.app", "--version", "v1"]
            self.app = subprocess.Popen(
                [*command, "--port", str(port), *self.extra],
                stderr=subprocess.PIPE,
                text=True,
            )
            base = f"http://127.0.0.1:{port}"
            if _wait_healthy(self.app, base):
                return self.app, base
        raise AssertionError("the demo app never became healthy")

    def __exit__(self, *exc: object) -> None:
        if self.app.poll() is None:
            self.app.kill()
        self.app.wait()
        if self.app.stderr is not None:
            self.app.stderr.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_healthy(app: subprocess.Popen[str], base: str) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and app.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", trust_env=False).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.02)
    if app.poll() is None:
        app.kill()
    app.wait()
    return False


@pytest.mark.parametrize("error", [ConnectionResetError, BrokenPipeError])
def test_a_connection_reset_by_a_health_check_prints_no_traceback(
    error: type[OSError], capsys: pytest.CaptureFixture[str]
) -> None:
    server = DemoServer(DemoConfig(port=0, version="v1"))
    try:
        try:
            raise error("reset by peer")
        except OSError:
            server.handle_error(None, ("127.0.0.1", 1))
        try:
            raise ValueError("a real bug")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    printed = capsys.readouterr().err
    assert "reset by peer" not in printed
    assert "ValueError: a real bug" in printed  # other errors are still shown
