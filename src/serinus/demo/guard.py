"""The demo's error-ratio guard: the canary's 5xx share as counted by HAProxy's exporter.

A deliberately simple check (the analysis package does this properly, over Prometheus, with
statistics); it reads per-server response counters and compares the canary color's 5xx ratio
against a threshold once enough requests have reached it.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from serinus.core.status import Color

RESPONSES = "haproxy_server_http_responses"


@dataclass(frozen=True)
class Counts:
    requests: int
    errors: int

    @property
    def ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def since(self, earlier: Counts) -> Counts:
        return Counts(self.requests - earlier.requests, self.errors - earlier.errors)


def parse_counts(exposition: str, color: Color, backend: str = "be_main") -> Counts:
    requests = errors = 0
    for family in text_string_to_metric_families(exposition):
        if family.name != RESPONSES:
            continue
        for sample in family.samples:
            labels = sample.labels
            if labels.get("proxy") != backend or not labels.get("server", "").startswith(color):
                continue
            if sample.name.endswith("_created"):
                continue
            code = labels.get("code", "")
            if code == "other":
                continue
            requests += int(sample.value)
            if code == "5xx":
                errors += int(sample.value)
    return Counts(requests, errors)


@dataclass
class ErrorRatioGuard:
    """Trips when the color's 5xx ratio since `reset` exceeds `threshold` over `min_requests`."""

    metrics_url: str
    threshold: float = 0.05
    min_requests: int = 50
    _baseline: Counts | None = None
    _color: Color = "green"

    async def read(self, color: Color) -> Counts:
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            response = await client.get(self.metrics_url)
            response.raise_for_status()
        return parse_counts(response.text, color)

    async def reset(self, color: Color) -> None:
        self._color = color
        self._baseline = await self.read(color)

    async def check(self) -> tuple[Counts, bool | None]:
        """(counts since reset, verdict): True healthy, False tripped, None not enough data."""
        current = await self.read(self._color)
        counts = current.since(self._baseline or Counts(0, 0))
        if counts.requests < self.min_requests:
            return counts, None
        return counts, counts.ratio <= self.threshold
