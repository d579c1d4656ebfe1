"""A rollout with a `sequential` metric and the analysis runs its looks leave in the status.

The runs are made by the core itself (`start_run`, `record_tick` over counter readings), so the
CLI, API and dashboard tests show what a real run records, not a hand-written copy of it.
"""

from __future__ import annotations

from typing import Any

from api_world import in_progress
from dashboard_world import blue_green

from serinus.core.analysis.looks import CounterReading
from serinus.core.analysis.run import AnalysisPhase, AnalysisRunState, record_tick, start_run
from serinus.core.analysis.spec import AnalysisTemplateSpec
from serinus.core.status import Phase, RolloutStatus

METRIC = "error-ratio"
CANARY_REQUESTS = 'sum(http_requests_total{version="{{canary.version}}"}) or vector(0)'
SEQUENTIAL_METRIC: dict[str, Any] = {
    "name": METRIC,
    "interval": "1s",
    "count": 36,
    "inconclusiveLimit": 3,
    "sequential": {
        # never asked: nothing runs these rollouts, the tests store their runs
        "provider": {"prometheus": {"address": "http://127.0.0.1:9", "timeout": "2s"}},
        "alpha": 0.05,
        "minSamples": 200,
        "canary": {
            "requests": CANARY_REQUESTS,
            "errors": 'sum(http_requests_total{version="{{canary.version}}",code=~"5.."})',
        },
        "baseline": {
            "requests": 'sum(http_requests_total{version="{{stable.version}}"})',
            "errors": 'sum(http_requests_total{version="{{stable.version}}",code=~"5.."})',
        },
    },
}
TEMPLATE: dict[str, Any] = {"name": "errors", "metrics": [SEQUENTIAL_METRIC]}
STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"analysis": {"templates": ["errors"]}},
    {"setWeight": 100},
]


def rollout_document(name: str = "seq") -> dict[str, Any]:
    """A blue-green canary rollout whose step 2 is the sequential analysis `errors`."""
    document = blue_green(name)
    document["spec"]["strategy"] = {"blueGreenCanary": {"steps": STEPS}}
    document["spec"]["analysisTemplates"] = [TEMPLATE]
    return document


def _reading(second: int) -> CounterReading:
    """A canary at 10% of 100 req/s with 1 error in 4 s (2.5%); the baseline 1 in 3 s (0.37%)."""
    return CounterReading(
        {
            "canary.requests": [10.0 * second],
            "canary.errors": [float(second // 4)],
            "baseline.requests": [90.0 * second],
            "baseline.errors": [float(second // 3)],
        }
    )


def looks(started: float) -> tuple[AnalysisRunState, AnalysisRunState]:
    """(running, failed): the run after 6 looks (evidence below 1/alpha, too few canary
    requests to pass), and the same run at the look whose evidence reached 1/alpha."""
    spec = AnalysisTemplateSpec.model_validate({"metrics": [SEQUENTIAL_METRIC]})
    versions = {"canary.version": "v2", "stable.version": "v1"}
    state = start_run(spec, versions, started, name="step-1")
    running: AnalysisRunState | None = None
    for second in range(36):
        state = record_tick(spec, state, [(METRIC, _reading(second))], started + second)
        if second == 5:
            running = state
        if state.phase is AnalysisPhase.FAILED:
            assert running is not None and running.phase is AnalysisPhase.RUNNING
            return running, state
    raise AssertionError("the 5% canary never failed: the readings no longer show a bad one")


def analysing(run: AnalysisRunState, at: float) -> RolloutStatus:
    """The rollout on its analysis step (v2 at 10%), `run` in the status."""
    status = in_progress(Phase.PROGRESSING, 1, analysis=run, step_started_at=at)
    return status.model_copy(update={"phase_since": at})
