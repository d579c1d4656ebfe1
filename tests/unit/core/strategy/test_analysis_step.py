"""The analysis step: Successful continues, Failed aborts, Inconclusive waits for a person."""

from __future__ import annotations

from typing import Any

import pytest
from strategy_world import World, make_rollout

from serinus.core.analysis.run import AnalysisPhase
from serinus.core.errors import InvalidInput
from serinus.core.events import EventType
from serinus.core.intents import IntentKind
from serinus.core.status import Phase

TEMPLATES = [
    {
        "name": "errors",
        "args": [{"name": "threshold", "value": "0.05"}],
        "metrics": [
            {
                "name": "error-ratio",
                "interval": "5s",
                "count": 3,
                "successCondition": "result[0] <= {{args.threshold}}",
                "provider": {
                    "prometheus": {
                        "address": "http://127.0.0.1:9090",
                        "query": 'ratio{version="{{canary.version}}"}',
                    }
                },
            }
        ],
    }
]
STRATEGY: dict[str, Any] = {
    "blueGreenCanary": {
        "steps": [{"setWeight": 10}, {"analysis": {"templates": ["errors"]}}, {"setWeight": 100}],
        "scaleDownDelay": 0,
    }
}


def world_at_analysis() -> World:
    world = World(make_rollout(STRATEGY, "v1", analysisTemplates=TEMPLATES))
    world.settle()
    world.deploy("v2")
    world.settle()
    return world


def finish(world: World, phase: AnalysisPhase, message: str = "") -> None:
    assert world.status is not None and world.status.analysis is not None
    world.analysis = world.status.analysis.model_copy(update={"phase": phase, "message": message})


def test_an_analysis_step_starts_a_run_with_the_rollouts_variables_and_waits() -> None:
    world = world_at_analysis()
    status = world.status
    assert status is not None and status.phase is Phase.PROGRESSING
    assert status.analysis is not None and status.analysis.name == "step-1"
    assert status.analysis.args["canary.version"] == "v2"
    assert status.analysis.args["threshold"] == "0.05"
    assert world.version_weights() == {"v1": 90, "v2": 10}
    assert world.decisions[-1].wake_at is not None  # the first measurement's due time


def test_successful_analysis_continues_the_rollout() -> None:
    world = world_at_analysis()
    finish(world, AnalysisPhase.SUCCESSFUL)
    assert world.settle().phase is Phase.COMPLETED
    assert world.version_weights() == {"v2": 100}


@pytest.mark.parametrize("phase", [AnalysisPhase.FAILED, AnalysisPhase.ERROR])
def test_failed_or_errored_analysis_aborts(phase: AnalysisPhase) -> None:
    world = world_at_analysis()
    finish(world, phase, "error-ratio: 0.2 > 0.05")
    status = world.settle()
    assert status.phase is Phase.ABORTED
    assert "error-ratio" in status.message
    assert world.version_weights() == {"v1": 100}
    types = [e.type for d in world.decisions for e in d.events]
    assert EventType.ANALYSIS_FAILED in types


def test_inconclusive_analysis_waits_for_a_person_who_may_continue() -> None:
    world = world_at_analysis()
    finish(world, AnalysisPhase.INCONCLUSIVE, "no data")
    assert world.settle().phase is Phase.AWAITING_JUDGEMENT
    assert world.version_weights() == {"v1": 90, "v2": 10}  # never promoted on missing data
    world.ask(IntentKind.JUDGE, approve=True, comment="checked by hand")
    assert world.settle().phase is Phase.COMPLETED


def test_a_step_naming_an_unknown_template_is_rejected_at_lint_time() -> None:
    steps = [{"analysis": {"templates": ["nope"]}}]
    with pytest.raises(InvalidInput) as caught:
        make_rollout({"blueGreenCanary": {"steps": steps}}, analysisTemplates=TEMPLATES)
    assert "steps[0].analysis.templates: 'nope' is not in spec.analysisTemplates" in str(
        caught.value
    )


def test_an_invalid_condition_is_rejected_at_lint_time() -> None:
    broken = [
        {
            **TEMPLATES[0],
            "metrics": [{**TEMPLATES[0]["metrics"][0], "successCondition": "result[0] <"}],
        }
    ]
    with pytest.raises(InvalidInput) as caught:
        make_rollout(STRATEGY, analysisTemplates=broken)
    assert "successCondition" in str(caught.value)


BACKGROUND: dict[str, Any] = {
    "blueGreenCanary": {
        "steps": [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}],
        "analysis": {"templates": ["errors"], "startingStep": 1},
        "scaleDownDelay": 0,
    }
}


def world_with_background() -> World:
    world = World(make_rollout(BACKGROUND, "v1", analysisTemplates=TEMPLATES))
    world.settle()
    world.deploy("v2")
    world.settle()
    return world


def test_background_analysis_starts_at_its_step_and_runs_beside_the_steps() -> None:
    world = world_with_background()
    status = world.status
    assert status is not None and status.phase is Phase.PAUSED
    assert status.background_analysis is not None and status.background_analysis.background
    world.ask(IntentKind.PROMOTE)
    world.settle()
    assert world.version_weights() == {"v1": 50, "v2": 50}


def test_background_analysis_failure_aborts_at_any_step() -> None:
    world = world_with_background()
    assert world.status is not None and world.status.background_analysis is not None
    world.background_analysis = world.status.background_analysis.model_copy(
        update={"phase": AnalysisPhase.FAILED, "message": "error-ratio 0.3"}
    )
    status = world.settle()
    assert status.phase is Phase.ABORTED and "background analysis" in status.message
    assert world.version_weights() == {"v1": 100}


def paused_by_inconclusive_background_analysis() -> World:
    world = world_with_background()
    world.ask(IntentKind.PROMOTE)
    world.settle()
    assert world.status is not None and world.status.background_analysis is not None
    world.background_analysis = world.status.background_analysis.model_copy(
        update={"phase": AnalysisPhase.INCONCLUSIVE, "message": "no data"}
    )
    world.settle()
    return world


def test_inconclusive_background_analysis_pauses_until_a_person_resumes() -> None:
    world = paused_by_inconclusive_background_analysis()
    status = world.status
    assert status is not None
    assert status.phase is Phase.PAUSED and status.paused_by_user
    assert "inconclusive" in status.message
    world.background_analysis = None  # the engine measures the run the resume starts
    world.now += 1
    world.ask(IntentKind.RESUME)
    guarding = world.status.background_analysis
    assert guarding is not None and not guarding.completed, "resume restarts the guard"
    assert guarding.started_at == world.now
    world.ask(IntentKind.PROMOTE)
    assert world.settle().phase is Phase.COMPLETED


def test_background_analysis_still_aborts_after_an_inconclusive_pause_and_a_resume() -> None:
    world = paused_by_inconclusive_background_analysis()
    world.now += 1
    world.ask(IntentKind.RESUME)
    assert world.status is not None and world.status.background_analysis is not None
    world.background_analysis = world.status.background_analysis.model_copy(
        update={"phase": AnalysisPhase.FAILED, "message": "error ratio 0.4"}
    )
    status = world.settle()
    assert status.phase is Phase.ABORTED and "background analysis" in status.message
    assert world.version_weights() == {"v1": 100}


def test_background_analysis_is_stopped_at_promotion() -> None:
    world = world_with_background()
    world.ask(IntentKind.PROMOTE_FULL)
    status = world.settle()
    assert status.phase is Phase.COMPLETED
    assert status.background_analysis is not None and status.background_analysis.completed
