"""A plan passes a job gate the way it passes a webhook gate: assumed to succeed, and said so;
no Job is created (the plan has no cluster client at all)."""

from __future__ import annotations

from strategy_world import make_rollout

from serinus.app.planning import plan_rollout

JOB = {
    "spec": {"template": {"spec": {"containers": [{"name": "smoke", "image": "smoke:1"}]}}},
    "serviceAccountName": "smoke-tests",
}


async def test_a_job_gate_is_assumed_to_succeed() -> None:
    strategy = {
        "canary": {
            "steps": [{"webhook": {"name": "suite", "job": JOB}}, {"setWeight": 100}],
            "hooks": [{"name": "smoke", "type": "confirmPromotion", "job": JOB}],
        }
    }
    v1 = make_rollout(strategy, "v1")
    first = await plan_rollout(v1, None, 1000.0)
    assert first.stopped is None and first.final is not None
    plan = await plan_rollout(v1.with_version("v2"), (v1, first.final), 2000.0)
    assert plan.stopped is None, plan.stopped
    assumed = [entry.assumed for entry in plan.entries if entry.assumed]
    assert "assumed: job gate suite succeeds" in assumed
    assert "assumed: job gate smoke succeeds" in assumed
    assert plan.final is not None and plan.final.stable is not None
    assert plan.final.stable.version == "v2"
