"""The load generator: counts what the client saw, by version and over time."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from serinus.core.errors import InvalidInput
from serinus.demo.app import DemoConfig, DemoServer
from serinus.demo.load import LoadBucket, LoadGenerator, main, version_of


@pytest.fixture
def demo_url() -> Iterator[str]:
    server = DemoServer(DemoConfig(port=0, version="v1"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.stop_gracefully(drain_seconds=5)
        thread.join()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_it_counts_answers_by_version_against_the_demo_app(demo_url: str) -> None:
    generator = LoadGenerator(demo_url, rate=200, timeout=2, workers=4, bucket_seconds=0.25)
    report = await generator.run_for(0.6)
    assert report.sent > 0
    assert (report.failed, report.in_flight) == (0, 0)
    assert report.versions == {"v1": report.sent}
    assert sum(sum(b.versions.values()) for b in report.timeline) == report.sent
    assert all(b.shares in ({"v1": 1.0}, {}) for b in report.timeline)
    assert [b.start for b in report.timeline] == [i * 0.25 for i in range(len(report.timeline))]


async def test_every_request_fails_when_the_server_is_down() -> None:
    generator = LoadGenerator(f"http://127.0.0.1:{unused_port()}/", rate=100, timeout=1)
    report = await generator.run_for(0.3)
    assert report.sent > 0
    assert report.failed == report.sent
    assert report.failures_by_reason == {"ConnectError": report.sent}
    assert report.versions == {}
    assert sum(b.failed for b in report.timeline) == report.sent


async def test_versions_shares_and_failures_are_attributed() -> None:
    answers = iter(
        [
            httpx.Response(200, headers={"X-Version": "v1"}),
            httpx.Response(200, json={"version": "v2"}),  # no header: from the body
            httpx.Response(500, headers={"X-Version": "v2"}),
            httpx.Response(200, text="not json"),
        ]
        * 100
    )
    stop = asyncio.Event()
    answered = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal answered
        answered += 1
        if answered == 8:
            stop.set()
        return next(answers)

    transport = httpx.MockTransport(answer)
    generator = LoadGenerator("http://svc/", rate=400, workers=1, transport=transport)
    report = await generator.run_until(stop)
    assert report.sent == 8  # one worker: it notices the stop before its next request
    assert report.versions == {"v1": 2, "v2": 2, "unknown": 2}
    assert report.failures_by_reason == {"HTTP 500": 2}
    assert report.succeeded + report.failed == report.sent
    assert report.to_dict()["failuresByReason"] == {"HTTP 500": 2}


def test_the_version_comes_from_the_header_first() -> None:
    both = httpx.Response(200, headers={"X-Version": "v1"}, json={"version": "v2"})
    assert version_of(both) == "v1"
    assert version_of(httpx.Response(200, json=["v2"])) == "unknown"


def test_bucket_shares_are_fractions_of_the_successes() -> None:
    bucket = LoadBucket(start=2.0, versions={"v2": 1, "v1": 3}, failed=5)
    assert bucket.shares == {"v1": 0.75, "v2": 0.25}
    assert bucket.to_dict() == {
        "start": 2.0,
        "versions": {"v1": 3, "v2": 1},
        "shares": {"v1": 0.75, "v2": 0.25},
        "failed": 5,
    }


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"url": "svc:80"}, "url"),
        ({"rate": 0}, "rate"),
        ({"timeout": -1}, "timeout"),
        ({"workers": 0}, "workers"),
        ({"bucket_seconds": 0}, "bucket_seconds"),
    ],
)
def test_bad_settings_are_named(kwargs: dict[str, object], named: str) -> None:
    settings: dict[str, object] = {"url": "http://svc/", "rate": 10, **kwargs}
    with pytest.raises(InvalidInput) as raised:
        LoadGenerator(**settings)  # type: ignore[arg-type]
    assert [p.split(":")[0] for p in raised.value.problems] == [named]


def test_the_cli_prints_a_json_report(demo_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([demo_url, "--rate", "50", "--duration", "0.3", "--bucket", "0.1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sent"] > 0
    assert report["failed"] == 0
    assert report["versions"] == {"v1": report["sent"]}
    assert report["bucketSeconds"] == 0.1
    assert {"targetRate", "achievedRate", "failuresByReason", "timeline"} <= report.keys()
