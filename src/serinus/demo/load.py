"""The demo's load generator: steady-rate GETs that count, client side, what users would see.

    python -m serinus.demo.load http://127.0.0.1:8080/ --rate 300 --duration 10

Request k is due at `start + k / rate`; several workers (keep-alive connections) take the next
due slot in turn, so the rate holds while answers are slower than `1 / rate` (a late worker
sends at once to catch up). A request fails when it gets a non-2xx answer or a transport error;
the client counts it (never the proxy). Answers are attributed to a version by their `X-Version`
header or the `version` field of their JSON body, in time buckets by when they were sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from serinus.core.errors import InvalidInput

UNKNOWN_VERSION = "unknown"
MAX_WORKERS = 512
# More connections than this only add pool contention: the client tops out near 800 requests/s.
DEFAULT_MAX_WORKERS = 32


@dataclass(frozen=True)
class LoadBucket:
    """What was sent in one time bucket, by when it was sent (seconds since the start)."""

    start: float
    versions: dict[str, int]
    failed: int

    @property
    def shares(self) -> dict[str, float]:
        """Each version's fraction of the successful answers in this bucket."""
        total = sum(self.versions.values())
        return {v: n / total for v, n in sorted(self.versions.items())} if total else {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "versions": dict(sorted(self.versions.items())),
            "shares": {v: round(s, 4) for v, s in self.shares.items()},
            "failed": self.failed,
        }


@dataclass(frozen=True)
class LoadReport:
    url: str
    target_rate: float
    duration_seconds: float
    sent: int
    succeeded: int
    failed: int
    in_flight: int
    failures_by_reason: dict[str, int]
    versions: dict[str, int]
    bucket_seconds: float
    timeline: list[LoadBucket]

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.duration_seconds if self.duration_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "targetRate": self.target_rate,
            "achievedRate": round(self.achieved_rate, 2),
            "durationSeconds": round(self.duration_seconds, 3),
            "sent": self.sent,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "inFlight": self.in_flight,
            "failuresByReason": dict(sorted(self.failures_by_reason.items())),
            "versions": dict(sorted(self.versions.items())),
            "bucketSeconds": self.bucket_seconds,
            "timeline": [bucket.to_dict() for bucket in self.timeline],
        }


@dataclass
class _Tally:
    versions: Counter[str] = field(default_factory=Counter)
    failed: int = 0


def version_of(response: httpx.Response) -> str:
    """The version that answered: the `X-Version` header, else the JSON body's `version`."""
    header: str | None = response.headers.get("x-version")
    if header:
        return header
    try:
        body = response.json()
    except ValueError:
        return UNKNOWN_VERSION
    version = body.get("version") if isinstance(body, dict) else None
    return str(version) if version is not None else UNKNOWN_VERSION


class LoadGenerator:
    """Sends GET requests to one URL at a steady rate until stopped; `report()` at any time."""

    def __init__(
        self,
        url: str,
        rate: float,
        timeout: float = 2.0,
        *,
        workers: int | None = None,
        bucket_seconds: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        problems = []
        if not url.startswith(("http://", "https://")):
            problems.append(f"url: must start with http:// or https:// (got {url!r})")
        if not rate > 0:
            problems.append(f"rate: must be > 0 requests/s (got {rate})")
        if not timeout > 0:
            problems.append(f"timeout: must be > 0 seconds (got {timeout})")
        if not bucket_seconds > 0:
            problems.append(f"bucket_seconds: must be > 0 (got {bucket_seconds})")
        if workers is not None and not 1 <= workers <= MAX_WORKERS:
            problems.append(f"workers: must be between 1 and {MAX_WORKERS} (got {workers})")
        if problems:
            raise InvalidInput(problems, source="load generator settings")
        self.url = url
        self.rate = rate
        self.timeout = timeout
        # Enough concurrent requests to hold the rate with answers up to ~50 ms (or `timeout`).
        self.workers = workers or min(DEFAULT_MAX_WORKERS, max(4, math.ceil(rate * 0.05)))
        self.bucket_seconds = bucket_seconds
        self._transport = transport
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._next_slot = 0
        self._sent = 0
        self._succeeded = 0
        self._failed = 0
        self._reasons: Counter[str] = Counter()
        self._versions: Counter[str] = Counter()
        self._buckets: dict[int, _Tally] = {}

    async def run_for(self, seconds: float) -> LoadReport:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        return await self.run_until(stop)

    async def run_until(self, stop: asyncio.Event) -> LoadReport:
        """Send until `stop` is set, let in-flight requests finish, and report."""
        limits = httpx.Limits(max_connections=self.workers, max_keepalive_connections=self.workers)
        async with httpx.AsyncClient(
            timeout=self.timeout, limits=limits, trust_env=False, transport=self._transport
        ) as client:
            self._started_at = time.monotonic()
            self._ended_at = None
            await asyncio.gather(*(self._work(client, stop) for _ in range(self.workers)))
            self._ended_at = time.monotonic()
        return self.report()

    async def _work(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        assert self._started_at is not None
        while not stop.is_set():
            slot = self._next_slot
            self._next_slot += 1
            delay = self._started_at + slot / self.rate - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return
            await self._send(client)

    async def _send(self, client: httpx.AsyncClient) -> None:
        assert self._started_at is not None
        sent_at = time.monotonic()
        tally = self._buckets.setdefault(
            int((sent_at - self._started_at) // self.bucket_seconds), _Tally()
        )
        self._sent += 1
        try:
            response = await client.get(self.url)
        except httpx.HTTPError as exc:
            self._fail(tally, type(exc).__name__)
            return
        if not response.is_success:
            self._fail(tally, f"HTTP {response.status_code}")
            return
        version = version_of(response)
        self._succeeded += 1
        self._versions[version] += 1
        tally.versions[version] += 1

    def _fail(self, tally: _Tally, reason: str) -> None:
        self._failed += 1
        self._reasons[reason] += 1
        tally.failed += 1

    def answered(self, version: str) -> int:
        """How many requests `version` has answered so far (safe to ask from another thread)."""
        return self._versions.get(version, 0)

    def report(self) -> LoadReport:
        """The counts so far (a final report once `run_until` has returned)."""
        if self._started_at is None:
            duration = 0.0
        else:
            duration = (self._ended_at or time.monotonic()) - self._started_at
        last = max(self._buckets, default=-1)
        timeline = [
            LoadBucket(
                start=index * self.bucket_seconds,
                versions=dict(self._buckets.get(index, _Tally()).versions),
                failed=self._buckets.get(index, _Tally()).failed,
            )
            for index in range(last + 1)
        ]
        return LoadReport(
            url=self.url,
            target_rate=self.rate,
            duration_seconds=duration,
            sent=self._sent,
            succeeded=self._succeeded,
            failed=self._failed,
            in_flight=self._sent - self._succeeded - self._failed,
            failures_by_reason=dict(self._reasons),
            versions=dict(self._versions),
            bucket_seconds=self.bucket_seconds,
            timeline=timeline,
        )


async def _run_cli(generator: LoadGenerator, duration: float | None) -> LoadReport:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    return await generator.run_until(stop)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m serinus.demo.load",
        description="Send GET requests at a steady rate and print a JSON report.",
    )
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds (default: until Ctrl-C/SIGTERM)"
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per request")
    parser.add_argument("--workers", type=int, default=None, help="concurrent connections")
    parser.add_argument("--bucket", type=float, default=1.0, help="timeline bucket, seconds")
    args = parser.parse_args(argv)
    if args.duration is not None and args.duration <= 0:
        parser.error("--duration: must be > 0 seconds")
    try:
        generator = LoadGenerator(
            args.url,
            args.rate,
            args.timeout,
            workers=args.workers,
            bucket_seconds=args.bucket,
        )
    except InvalidInput as exc:
        parser.error(str(exc))
    report = asyncio.run(_run_cli(generator, args.duration))
    print(json.dumps(report.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
