"""How rollouts are shown: analysis results from the status, an inconclusive analysis's gate."""

from __future__ import annotations

from typing import Any

from api_world import auth_header, in_progress, rollout, serving

from serinus.core.analysis.run import (
    AnalysisPhase,
    AnalysisRunState,
    Measurement,
    MeasurementPhase,
    MetricResult,
)
from serinus.core.analysis.spec import Metric
from serinus.core.documents import validate_model
from serinus.core.events import Event, EventType
from serinus.core.intents import Grants
from serinus.core.spec import Rollout
from serinus.core.status import Phase, Revision, RolloutStatus
from serinus.entrypoints.api.analysis_specs import _metric_spec, metric_specs
from serinus.entrypoints.api.auth import Principal
from serinus.entrypoints.api.views import allowed_operations, judgement_view, run_title, timeline

TEMPLATE: dict[str, Any] = {
    "name": "latency",
    "metrics": [
        {
            "name": "p99",
            "interval": "5s",
            "count": 3,
            "successCondition": "result[0] < 0.5",
            "provider": {"prometheus": {"address": "http://127.0.0.1:9090", "query": "q"}},
        }
    ],
}


def analysed_rollout() -> Rollout:
    return validate_model(
        Rollout,
        {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "analysed"},
            "spec": {
                "version": "v2",
                "workload": {"process": {"command": ["app"], "replicas": 1}},
                "trafficRouting": {"haproxy": {}},
                "analysisTemplates": [TEMPLATE],
                "strategy": {
                    "blueGreenCanary": {
                        "steps": [{"setWeight": 10}, {"analysis": {"templates": ["latency"]}}]
                    }
                },
            },
        },
        "test",
    )


def run_state() -> AnalysisRunState:
    comparison = Measurement(
        phase=MeasurementPhase.INCONCLUSIVE,
        at=1010.0,
        message="Nodata: too few samples",
        details={"classification": "Nodata", "pValue": 0.42, "estimate": 0.01},
    )
    value = Measurement(phase=MeasurementPhase.SUCCESSFUL, at=1005.0, value=[0.31])
    return AnalysisRunState(
        name="step-1",
        phase=AnalysisPhase.INCONCLUSIVE,
        message="p99 inconclusive",
        started_at=1000.0,
        metrics=[
            MetricResult(
                name="p99",
                phase=AnalysisPhase.INCONCLUSIVE,
                count=2,
                successful=1,
                inconclusive=1,
                measurements=[value, comparison],
            )
        ],
    )


async def test_analysis_results_and_an_inconclusive_gate_are_shown() -> None:
    async with serving() as world:
        spec = analysed_rollout()
        await world.store.submit(spec)
        status = RolloutStatus(
            phase=Phase.AWAITING_JUDGEMENT,
            stable=Revision(version="v1", color="blue"),
            canary=Revision(version="v2", color="green"),
            step_index=1,
            phase_since=1011.0,
            weights={"blue": 90, "green": 10},
            analysis=run_state(),
        )
        events = [
            Event(type=EventType.ANALYSIS_STARTED, message="analysis latency started", at=1000.0),
            Event(type=EventType.WEIGHTS_CHANGED, message="v2 10%", at=999.0),
            Event(type=EventType.ANALYSIS_INCONCLUSIVE, message="a person decides", at=1011.0),
        ]
        await world.store.save("analysed", status, events, [])

        result: dict[str, Any] = (
            await world.client.get(
                "/api/v1/rollouts/analysed/analysis", headers=auth_header("vera")
            )
        ).json()
        [run] = result["runs"]
        assert run["phase"] == "Inconclusive" and run["name"] == "step-1"
        [metric] = run["metrics"]
        assert metric["name"] == "p99" and metric["successful"] == 1
        assert metric["measurements"][1]["details"]["pValue"] == 0.42
        assert [e["type"] for e in result["events"]] == ["AnalysisStarted", "AnalysisInconclusive"]

        page = (
            await world.client.get("/api/v1/rollouts/analysed", headers=auth_header("ann"))
        ).json()
        assert page["steps"][1] == {
            "index": 1,
            "kind": "analysis",
            "description": "analysis latency",
            "state": "current",
            "startedAt": None,
            "pauseSeconds": None,
        }
        judgement = page["judgement"]
        assert judgement["canJudge"] is True and judgement["inputs"] == []
        seen = {"revision": judgement["revision"], "step": judgement["step"]}
        assert (
            "<strong>latency</strong> was inconclusive: p99 inconclusive"
            in (judgement["instructionsHtml"])
        )
        decided = await world.client.post(
            "/api/v1/rollouts/analysed/judge",
            json={"approve": True, "comment": "p99 fine by eye", **seen},
            headers=auth_header("ann"),
        )
        assert decided.status_code == 202


# --- the timeline, operations and judgement effects off the happy path -------------------------

PAUSED_STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"pause": {"duration": "30s"}},
    {"judgement": {"instructions": "look"}},
    {"setWeight": 100},
]


def _states(status: RolloutStatus | None) -> list[str]:
    return [step.state for step in timeline(rollout("w", PAUSED_STEPS), status)]


def test_the_timeline_marks_the_step_an_abort_stopped_at_and_every_step_after_promotion() -> None:
    assert _states(None) == ["pending"] * 4
    assert _states(in_progress(Phase.PAUSED, 1, step_started_at=5.0)) == [
        "done", "current", "pending", "pending",
    ]  # fmt: skip
    assert _states(in_progress(Phase.ABORTED, 2)) == ["done", "done", "failed", "pending"]
    assert _states(in_progress(Phase.FAILED, 0)) == ["failed", "pending", "pending", "pending"]
    promoted = RolloutStatus(
        phase=Phase.SCALING_DOWN, stable=Revision(version="v2", color="green"), step_index=4
    )
    assert _states(promoted) == ["done"] * 4
    assert _states(promoted.model_copy(update={"phase": Phase.COMPLETED})) == ["done"] * 4
    # A timed pause carries its duration and, while current, when it began: the countdown.
    pause = timeline(rollout("w", PAUSED_STEPS), in_progress(Phase.PAUSED, 1, step_started_at=5.0))
    assert (pause[1].pause_seconds, pause[1].started_at) == (30.0, 5.0)
    assert pause[0].started_at is None


def test_promote_is_offered_only_where_the_engine_accepts_it() -> None:
    spec = rollout("w", PAUSED_STEPS)
    sre = Principal(name="sre", roles=frozenset({"approver", "deployer"}))
    grants = Grants()

    def ops(status: RolloutStatus) -> list[str]:
        return allowed_operations(spec, status, sre, grants)

    assert "promote" in ops(in_progress(Phase.PAUSED, 1))
    assert "promote" not in ops(in_progress(Phase.PAUSED, 1, paused_by_user=True))
    assert "promote" not in ops(in_progress(Phase.PROGRESSING, 0))  # measuring or scaling
    judging = ops(in_progress(Phase.AWAITING_JUDGEMENT, 2))
    assert "promote" not in judging and "promote-full" in judging and "judge" in judging


def test_the_judgement_says_what_each_decision_does() -> None:
    spec = rollout("w", PAUSED_STEPS)
    ann = Principal(name="ann", roles=frozenset({"approver"}))
    status = in_progress(Phase.AWAITING_JUDGEMENT, 2, step_started_at=900.0)
    view = judgement_view(spec, status, ann, Grants())
    assert view is not None
    assert view.approve_effect == "continue to step 4 (setWeight 100%)"
    assert view.reject_effect == "abort, all traffic back to v1"
    assert view.step_started_at == 900.0
    last = rollout("w", PAUSED_STEPS[:3])
    view = judgement_view(last, status, ann, Grants())
    assert view is not None and view.approve_effect == "promote v2: it takes all traffic"


# --- the analysis report -----------------------------------------------------------------------


def test_a_run_is_named_by_its_step_as_the_timeline_numbers_it() -> None:
    spec = analysed_rollout()
    assert run_title(spec, "step-1") == "step 2: analysis latency"
    assert run_title(spec, "background") == "background analysis"
    assert run_title(spec, "step-9") == "step-9"  # a run of steps that changed since


def test_metric_specs_carry_the_query_condition_threshold_and_unit() -> None:
    [p99] = metric_specs(analysed_rollout())
    assert (p99.provider, p99.query, p99.success_condition) == (
        "prometheus",
        "q",
        "result[0] < 0.5",
    )
    assert (p99.threshold, p99.interval_seconds, p99.count, p99.failure_limit) == (0.5, 5.0, 3, 0)
    assert p99.judge is None


def test_only_a_simple_numeric_condition_gives_a_threshold_line() -> None:
    base: dict[str, Any] = TEMPLATE["metrics"][0]
    cases = {
        "result[0] < 0.5": 0.5,
        "result >= 99": 99.0,
        "result[0] > -1e-3": -0.001,
        "result[0] < 0.5 && result[1] < 2": None,
        "len(result) == 0": None,
    }
    for condition, expected in cases.items():
        metric = validate_model(Metric, {**base, "successCondition": condition}, "test")
        assert _metric_spec(metric).threshold == expected, condition
    latency = validate_model(
        Metric, {**base, "name": "latency-p95", "successCondition": "len(result) > 0"}, "test"
    )
    assert _metric_spec(latency).unit == "s" and _metric_spec(latency).threshold is None
