"""How rollouts are shown: analysis results from the status, an inconclusive analysis's gate."""

from __future__ import annotations

from typing import Any

from api_world import auth_header, serving

from serinus.core.analysis.run import (
    AnalysisPhase,
    AnalysisRunState,
    Measurement,
    MeasurementPhase,
    MetricResult,
)
from serinus.core.documents import validate_model
from serinus.core.events import Event, EventType
from serinus.core.spec import Rollout
from serinus.core.status import Phase, Revision, RolloutStatus

TEMPLATE = {
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
