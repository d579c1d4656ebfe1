"""serinus's own metrics are counted where things happen: the real Engine drives a rollout whose
analysis measures and whose router fails once, and the exposed counters say so."""

from __future__ import annotations

from strategy_world import make_rollout

from serinus.adapters.metrics.memory import MemoryProvider
from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.app.metrics import DEFAULT
from serinus.core.status import Phase

TEMPLATES = [
    {
        "name": "errors",
        "metrics": [
            {
                "name": "error-ratio",
                "count": 3,
                "interval": "1s",
                "failureLimit": 1,
                "successCondition": "result[0] <= 0.05",
                "provider": {"prometheus": {"address": "http://prom:9090", "query": "q"}},
            }
        ],
    }
]
STRATEGY = {
    "blueGreenCanary": {
        "steps": [{"setWeight": 10}, {"analysis": {"templates": ["errors"]}}, {"setWeight": 100}],
        "scaleDownDelay": 0,
        "abortScaleDownDelay": 0,
    }
}


def sample(name: str, **labels: str) -> float:
    return DEFAULT.registry.get_sample_value(name, labels) or 0.0


async def test_measurements_and_reconcile_errors_are_counted() -> None:
    name = "counted"
    clock = [1000.0]
    store = MemoryStateStore()
    router = MemoryRouter()
    provider = MemoryProvider([[0.01], [0.30], [0.02]])
    engine = Engine(
        store,
        router,
        MemoryPlatform(MemoryWorld()),
        clock=lambda: clock[0],
        providers={"prometheus": provider},
    )
    rollout = make_rollout(STRATEGY, "v1", analysisTemplates=TEMPLATES)
    rollout = rollout.model_copy(
        update={"metadata": rollout.metadata.model_copy(update={"name": name})}
    )
    before = {
        outcome: sample(
            "serinus_analysis_outcomes_total", rollout=name, metric="error-ratio", outcome=outcome
        )
        for outcome in ("Successful", "Failed")
    }
    errors_before = sample("serinus_reconcile_errors_total", rollout=name)

    await operations.submit(store, rollout)
    for _ in range(5):
        await engine.reconcile(name)
        clock[0] += 0.5
    await operations.submit(store, rollout.with_version("v2"))
    router.fail_next("set_weights")
    failed = await engine.reconcile(name)
    while failed.error is None:  # provisioning first: the weight write comes when green is ready
        router.fail_next("set_weights")
        failed = await engine.reconcile(name)
        clock[0] += 0.5
    status = failed.status
    for _ in range(40):
        status = (await engine.reconcile(name)).status
        clock[0] += 0.5
    assert status.phase is Phase.COMPLETED, status.message

    counted = {
        outcome: sample(
            "serinus_analysis_outcomes_total", rollout=name, metric="error-ratio", outcome=outcome
        )
        - before[outcome]
        for outcome in ("Successful", "Failed")
    }
    assert counted == {"Successful": 2.0, "Failed": 1.0}  # one per measurement, as taken
    assert sample("serinus_reconcile_errors_total", rollout=name) - errors_before >= 1.0
