"""What each metric of a rollout's analysis templates measures and how it is judged, for the
dashboard's analysis report: the query and provider, the conditions, a simple condition's
threshold (to draw as a line), a unit guessed from the names, a comparison's judge thresholds,
a sequential metric's four counter queries, alpha and minSamples.
"""

from __future__ import annotations

import re

from serinus.core.analysis.spec import Metric, Sequential
from serinus.core.spec import Rollout
from serinus.entrypoints.api.models import MetricSpecView

# `result < 0.5`, `result[0] >= 99`: a condition with one number to draw as a threshold line.
_SIMPLE_CONDITION = re.compile(
    r"^\s*result(?:\[0\])?\s*(?:<|<=|>|>=)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$"
)
_UNITS = (("second", "s"), ("latency", "s"), ("duration", "s"), ("percent", "%"), ("bytes", "B"))


def metric_specs(rollout: Rollout) -> list[MetricSpecView]:
    return [
        _metric_spec(metric)
        for template in rollout.spec.analysis_templates
        for metric in template.metrics
    ]


def _metric_spec(metric: Metric) -> MetricSpecView:
    condition = metric.success_condition or metric.failure_condition or ""
    simple = _SIMPLE_CONDITION.match(condition)
    judge = None
    if metric.comparison is not None:
        comparison = metric.comparison
        provider: str | None = "prometheus"
        query = f"baseline: {comparison.baseline_query}\ncanary: {comparison.canary_query}"
        judge = {
            **comparison.judge.model_dump(mode="json", by_alias=True),
            **comparison.canary_config.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
    elif metric.sequential is not None:
        sequential = metric.sequential
        provider, query = "prometheus", _counter_queries(sequential)
        # how it is judged: the dashboard draws the evidence against 1/alpha, the canary's
        # requests against minSamples
        judge = {
            "kind": "sequential",
            "alpha": sequential.alpha,
            "boundary": 1.0 / sequential.alpha,
            "minSamples": sequential.min_samples,
            "counts": "errors" if sequential.canary.counts == "errors" else "slow",
        }
    elif metric.provider is not None:
        provider = metric.provider.kind
        query = _query_of(metric)
    else:
        provider, query = None, ""
    words = f"{metric.name} {query}".lower()
    return MetricSpecView(
        name=metric.name,
        provider=provider,
        query=query,
        success_condition=metric.success_condition,
        failure_condition=metric.failure_condition,
        threshold=float(simple.group(1)) if simple else None,
        # evidence is a pure number, whatever the counters' names say
        unit="" if metric.sequential else next((u for word, u in _UNITS if word in words), ""),
        interval_seconds=metric.interval,
        count=metric.count,
        failure_limit=metric.failure_limit,
        judge=judge,
    )


def _counter_queries(sequential: Sequential) -> str:
    """One line per counter query, named as the measurements' messages name them."""
    return "\n".join(f"{name}: {source.query}" for name, source in sequential.sources().items())


def _query_of(metric: Metric) -> str:
    provider = metric.provider
    if provider is None:
        return ""
    if provider.prometheus is not None:
        return provider.prometheus.query
    if provider.web is not None:
        return f"{provider.web.method} {provider.web.url}"
    if provider.command is not None:
        return " ".join(provider.command.command)
    return "a Kubernetes Job"
