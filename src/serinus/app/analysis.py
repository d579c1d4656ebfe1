"""Running analyses: take the measurements that are due, concurrently, and fold them into the run.

The decisions are the pure functions of `serinus.core.analysis.run`; this module only measures.
Providers are chosen by a registry keyed by the provider's kind string (`prometheus`, `web`,
`command`), so a new provider is one registry entry, never an edit here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from serinus.adapters.metrics.command import CommandProvider
from serinus.adapters.metrics.prometheus import PrometheusProvider
from serinus.adapters.metrics.web import WebProvider
from serinus.core.analysis.comparison import judge_comparison
from serinus.core.analysis.run import (
    AnalysisRunState,
    Measurement,
    due_metrics,
    judge,
    next_due,
    provider_error,
    record,
    render_metric,
    start_run,
    terminate,
)
from serinus.core.analysis.spec import AnalysisTemplateSpec, Metric
from serinus.core.errors import DependencyError, InvalidInput
from serinus.core.ports import MetricProvider

ProviderRegistry = Mapping[str, MetricProvider[Any]]
# A provider that hangs past its own timeout still ends as an Error measurement.
TIMEOUT_GRACE_SECONDS = 5.0


def default_providers() -> dict[str, MetricProvider[Any]]:
    return {
        "prometheus": PrometheusProvider(),
        "web": WebProvider(),
        "command": CommandProvider(),
    }


def _provider(providers: ProviderRegistry, kind: str, metric: str) -> MetricProvider[Any]:
    try:
        return providers[kind]
    except KeyError:
        known = ", ".join(sorted(providers)) or "none"
        raise InvalidInput(
            [f"metrics.{metric}.provider: no metric provider for {kind!r} (known: {known})"],
            "analysis",
        ) from None


async def _take(provider: MetricProvider[Any], source: Any, timeout: float) -> list[float]:
    return await asyncio.wait_for(provider.measure(source), timeout + TIMEOUT_GRACE_SECONDS)


async def measure(metric: Metric, providers: ProviderRegistry, now: float) -> Measurement:
    """One measurement of a rendered metric; provider failures become Error measurements."""
    try:
        if metric.comparison is not None:
            provider = _provider(providers, "prometheus", metric.name)
            baseline_source, canary_source = metric.comparison.sources()
            baseline, canary = await asyncio.gather(
                _take(provider, baseline_source, baseline_source.timeout),
                _take(provider, canary_source, canary_source.timeout),
            )
            return judge_comparison(metric, baseline, canary, now)
        assert metric.provider is not None  # exactly one of provider/comparison
        source = metric.provider.source
        values = await _take(
            _provider(providers, metric.provider.kind, metric.name),
            source,
            float(getattr(source, "timeout", 30.0)),
        )
        return judge(metric, values, now)
    except DependencyError as exc:
        return provider_error(str(exc), now)
    except TimeoutError:
        return provider_error("the provider did not answer in time", now)


async def advance(
    spec: AnalysisTemplateSpec,
    state: AnalysisRunState,
    providers: ProviderRegistry,
    now: float,
) -> AnalysisRunState:
    """Take every measurement due at `now` (concurrently) and fold them in, in metric order.

    The run's arguments were resolved by `start_run` and live in the state; a missing provider
    kind is an InvalidInput raised before anything is measured.
    """
    due = [render_metric(metric, state.args) for metric in due_metrics(spec, state, now)]
    for metric in due:
        if metric.provider is not None:
            _provider(providers, metric.provider.kind, metric.name)
    measurements = await asyncio.gather(*(measure(metric, providers, now) for metric in due))
    for metric, measurement in zip(due, measurements, strict=True):
        state = record(spec, state, metric.name, measurement)
    return state


async def run_analysis(
    spec: AnalysisTemplateSpec,
    args: Mapping[str, str],
    providers: ProviderRegistry,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_duration: float | None = None,
    name: str = "",
    on_update: Callable[[AnalysisRunState], None] | None = None,
) -> AnalysisRunState:
    """Run a template until its outcome is known (or `max_duration` passes, then terminate).

    Metrics with an interval and no count never finish by themselves; give `max_duration` for
    them, or the run ends only when another metric decides it.
    """
    state = start_run(spec, args, clock(), name=name)
    deadline = None if max_duration is None else state.started_at + max_duration
    while not state.completed:
        state = await advance(spec, state, providers, clock())
        if on_update is not None:
            on_update(state)
        if state.completed:
            break
        due = next_due(spec, state)
        now = clock()
        if deadline is not None and (due is None or due > deadline):
            if deadline > now:
                await sleep(deadline - now)
            state = terminate(spec, state, clock(), "ran for the maximum duration")
            break
        if due is None:  # nothing more to measure and not completed: cannot happen
            break
        if due > now:
            await sleep(due - now)
    return state
