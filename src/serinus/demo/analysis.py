"""The demo's analysis templates: the canary's error ratio and p95 latency against the baseline's.

Both are checked twice, as users of Argo Rollouts and of Kayenta would write them:

- `thresholds`: instant queries of (canary - baseline) over the last `window`, judged by a
  `successCondition` (the canary may exceed stable's error ratio by `maxErrorRatioIncrease` and its
  p95 latency by `maxP95IncreaseSeconds`);
- `judge`: range queries (one point per second, each over `sampleWindow`) of each side, compared
  by the Mann-Whitney judge (direction `increase`: a canary better than stable is fine).

Both come from the replicas' own metrics, labelled by version. HAProxy's exporter (also scraped)
counts per server slot, and a slot is a color that the next version reuses: a window of its
counters just after an aborted canary still holds that canary's errors and would fail the next,
healthy one. Its latencies are averages only (HAProxy 2.6 has no histogram), not a p95.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REQUESTS = "demo_requests_total"
LATENCY = "demo_request_duration_seconds_bucket"


def error_ratio(role: str, window: str) -> str:
    """A role's (`canary`/`stable`) 5xx share of its answers over `window`."""
    selector = f'version="{{{{{role}.version}}}}"'
    # no 5xx yet means no error series at all: count it as 0 (the answers decide whether there
    # is data: with none the division is empty, which the analysis treats as no data)
    errors = f'(sum(rate({REQUESTS}{{{selector},code=~"5.."}}[{window}])) or vector(0))'
    answers = f"sum(rate({REQUESTS}{{{selector}}}[{window}]))"
    return f"({errors} / {answers})"


def p95_latency(role: str, window: str) -> str:
    """A role's 95th percentile of the app's answer time over `window`, from its histogram."""
    buckets = f'{LATENCY}{{version="{{{{{role}.version}}}}"}}'
    return f"histogram_quantile(0.95, sum by (le) (rate({buckets}[{window}])))"


@dataclass(frozen=True)
class Timing:
    """How long and how often the analysis measures (the quick demo has short ones)."""

    initial_delay: float  # seconds of canary traffic before the first measurement
    interval: float
    count: int
    # PromQL range of the threshold queries: longer than the analysis, so each measurement
    # counts every canary answer since it got traffic (a 5% canary at 10 req/s shows 2-3
    # errors in 5 s: a short sliding window is mostly noise)
    window: str
    judge_delay: float  # the judge's single comparison, once enough points exist
    judge_range: float
    sample_window: str

    @classmethod
    def for_demo(cls, quick: bool) -> Timing:
        if quick:
            return cls(5.0, 2.0, 3, "30s", 8.0, 15.0, "5s")
        return cls(10.0, 5.0, 6, "60s", 30.0, 30.0, "10s")


def analysis_templates(address: str, timing: Timing) -> list[dict[str, Any]]:
    source = {"address": address, "timeout": 5}
    every = {
        "initialDelay": timing.initial_delay,
        "interval": timing.interval,
        "count": timing.count,
        # a single scrape gap makes a NaN (no data); two in a row is a person's call
        "inconclusiveLimit": 1,
        "consecutiveErrorLimit": 2,
    }
    w = timing.window
    thresholds = {
        "name": "thresholds",
        "args": [
            {"name": "maxErrorRatioIncrease", "value": "0.03"},
            {"name": "maxP95IncreaseSeconds", "value": "0.05"},
        ],
        "metrics": [
            {
                "name": "error-ratio",
                **every,
                "successCondition": "result[0] <= {{args.maxErrorRatioIncrease}}",
                "provider": {
                    "prometheus": {
                        **source,
                        "query": f"{error_ratio('canary', w)} - {error_ratio('stable', w)}",
                    }
                },
            },
            {
                "name": "p95-latency",
                **every,
                "successCondition": "result[0] <= {{args.maxP95IncreaseSeconds}}",
                "provider": {
                    "prometheus": {
                        **source,
                        "query": f"{p95_latency('canary', w)} - {p95_latency('stable', w)}",
                    }
                },
            },
        ],
    }
    points = {"start": timing.judge_range, "step": 1}
    once = {"initialDelay": timing.judge_delay, "count": 1, "consecutiveErrorLimit": 2}
    s = timing.sample_window
    judge = {
        "name": "judge",
        "metrics": [
            {
                "name": "error-ratio-judged",
                **once,
                "comparison": {
                    "provider": {"prometheus": {**source, "range": points}},
                    "baselineQuery": error_ratio("stable", s),
                    "canaryQuery": error_ratio("canary", s),
                    "canaryConfig": {"direction": "increase", "critical": True},
                },
            },
            {
                "name": "p95-latency-judged",
                **once,
                "comparison": {
                    "provider": {"prometheus": {**source, "range": points}},
                    "baselineQuery": p95_latency("stable", s),
                    "canaryQuery": p95_latency("canary", s),
                    "canaryConfig": {
                        "direction": "increase",
                        # an answer 50% slower than stable's is a regression; less is noise
                        "effectSize": {"allowedIncrease": 1.5},
                    },
                },
            },
        ],
    }
    return [thresholds, judge]


def analysis_steps(judgement: dict[str, Any]) -> list[dict[str, Any]]:
    """setWeight 10 -> analysis -> judgement -> setWeight 100."""
    return [
        {"setWeight": 10},
        {"analysis": {"templates": ["thresholds", "judge"]}},
        {"judgement": judgement},
        {"setWeight": 100},
    ]
