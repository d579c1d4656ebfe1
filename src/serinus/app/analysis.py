"""Running analyses: one tick measures everything that is due, concurrently, then folds it in.

The decisions are the pure functions of `serinus.core.analysis.run`; this module only measures.
Whatever a provider raises becomes an Error measurement with a fixed reason: a MetricsError keeps
the provider's own message (providers never put reply bodies in it), anything unexpected (a reply
of a shape nobody foresaw, a bug) is reported by its type only, so nothing a dependency answered
reaches the status.
Providers are chosen by a registry keyed by the provider's kind string (`prometheus`, `web`,
`command`), so a new provider is one registry entry, never an edit here.

A sequential metric's look reads its counter queries and hands the raw results to the core
(`CounterReading`), which judges them against the evidence the run carries. A provider that can
read several queries at one instant (`measure_together`, Prometheus' does) is asked to, so the
counters of a look are consistent with each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from serinus.adapters.egress import EgressGuard
from serinus.adapters.metrics.command import CommandProvider
from serinus.adapters.metrics.prometheus import PrometheusProvider
from serinus.adapters.metrics.web import WebProvider
from serinus.app.notifications import EnvSecretResolver
from serinus.app.secret_headers import SecretHeaders
from serinus.core.analysis.comparison import judge_comparison
from serinus.core.analysis.run import (
    AnalysisRunState,
    CounterReading,
    Measurement,
    due_measurements,
    judge,
    next_due,
    provider_error,
    record_tick,
    start_run,
    terminate,
)
from serinus.core.analysis.spec import AnalysisTemplateSpec, Metric, Sequential
from serinus.core.errors import DependencyError, InvalidInput
from serinus.core.ports import KeyedMetricProvider, MetricProvider

ProviderRegistry = Mapping[str, MetricProvider[Any] | KeyedMetricProvider[Any]]
# A provider that hangs past its own timeout still ends as an Error measurement.
TIMEOUT_GRACE_SECONDS = 5.0
KEYED_CALL_SECONDS = 30.0


def default_providers(*, egress: EgressGuard | None = None) -> dict[str, MetricProvider[Any]]:
    """The local mode's: web header secrets come from the environment. With `egress` (the
    operator's), web and Prometheus refuse link-local and metadata addresses unless its
    allowlist admits them."""
    return {
        "prometheus": PrometheusProvider(egress=egress),
        "web": SecretHeaders(WebProvider(egress=egress), EnvSecretResolver(), namespace=""),
        "command": CommandProvider(),
    }


def _provider(
    providers: ProviderRegistry, kind: str, metric: str
) -> MetricProvider[Any] | KeyedMetricProvider[Any]:
    try:
        return providers[kind]
    except KeyError:
        known = ", ".join(sorted(providers)) or "none"
        raise InvalidInput(
            [f"metrics.{metric}.provider: no metric provider for {kind!r} (known: {known})"],
            "analysis",
        ) from None


async def _take(
    provider: MetricProvider[Any] | KeyedMetricProvider[Any], source: Any, timeout: float
) -> list[float]:
    assert not isinstance(provider, KeyedMetricProvider)  # comparisons: prometheus only
    return await asyncio.wait_for(provider.measure(source), timeout + TIMEOUT_GRACE_SECONDS)


@runtime_checkable
class TogetherProvider(Protocol):
    """A provider that reads several sources as of one instant."""

    async def measure_together(self, sources: Sequence[Any]) -> list[list[float]]: ...


async def _read_counters(
    sequential: Sequential, provider: MetricProvider[Any] | KeyedMetricProvider[Any]
) -> CounterReading:
    sources = sequential.sources()
    timeout = max(source.timeout for source in sources.values()) + TIMEOUT_GRACE_SECONDS
    if isinstance(provider, TogetherProvider):
        taking = provider.measure_together(list(sources.values()))
        values = await asyncio.wait_for(taking, timeout)
    else:
        values = await asyncio.gather(*(_take(provider, s, s.timeout) for s in sources.values()))
    return CounterReading(dict(zip(sources, values, strict=True)))


async def _check_on(
    provider: KeyedMetricProvider[Any], source: Any, run: str, metric: str, index: int
) -> list[float] | None:
    # one call only checks on the measurement; the source's own timeout spans many calls
    taking = provider.measure_keyed(source, run, metric, index)
    return await asyncio.wait_for(taking, KEYED_CALL_SECONDS)


async def measure(
    metric: Metric, providers: ProviderRegistry, now: float, *, run: str = "", index: int = 0
) -> Measurement | CounterReading | None:
    """One measurement of a rendered metric; every failure becomes an Error measurement.

    None: a keyed provider's measurement (number `index` of this metric in `run`) is pending.
    A sequential metric's look is the counters it read, for the core to judge.
    """
    try:
        if metric.sequential is not None:
            provider = _provider(providers, "prometheus", metric.name)
            return await _read_counters(metric.sequential, provider)
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
        provider = _provider(providers, metric.provider.kind, metric.name)
        if isinstance(provider, KeyedMetricProvider):
            keyed = await _check_on(provider, source, run, metric.name, index)
            return None if keyed is None else judge(metric, keyed, now)
        values = await _take(provider, source, float(getattr(source, "timeout", 30.0)))
        return judge(metric, values, now)
    except DependencyError as exc:
        return provider_error(str(exc), now)
    except TimeoutError:
        return provider_error("the provider did not answer in time", now)
    except Exception as exc:  # any failure is a measurement, never a crash
        return provider_error(f"the provider failed unexpectedly ({type(exc).__name__})", now)


async def advance(
    spec: AnalysisTemplateSpec,
    state: AnalysisRunState,
    providers: ProviderRegistry,
    now: float,
) -> AnalysisRunState:
    """One tick: take every measurement due at `now`, concurrently, and fold them in together.

    The run's arguments were resolved by `start_run` and live in the state; a missing provider
    kind is an InvalidInput raised before anything is measured.
    """
    due = due_measurements(spec, state, now)
    if not due:
        return state
    for metric in due:
        if metric.provider is not None:
            _provider(providers, metric.provider.kind, metric.name)
        elif metric.sequential is not None:
            _provider(providers, "prometheus", metric.name)
    run = f"{state.name}@{state.started_at!r}"
    taken = {result.name: result.count + result.error for result in state.metrics}
    measurements = await asyncio.gather(
        *(measure(m, providers, now, run=run, index=taken.get(m.name, 0)) for m in due)
    )
    # a pending measurement (a Job still running) is left out: asked again next time
    tick = [
        (metric.name, measurement)
        for metric, measurement in zip(due, measurements, strict=True)
        if measurement is not None
    ]
    return record_tick(spec, state, tick, now) if tick else state


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
