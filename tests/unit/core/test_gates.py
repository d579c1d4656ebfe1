"""Webhook gates in the spec (validation) and the pure rules of a call's outcome."""

from __future__ import annotations

from typing import Any

import pytest
from strategy_world import make_rollout

from serinus.core.errors import InvalidInput
from serinus.core.gates import GateCall, GatePhase, GateState, record_call

URL = "http://gates.example:8080/hook"


def canary_with(hooks: list[dict[str, Any]], steps: list[dict[str, Any]] | None = None) -> Any:
    return make_rollout({"canary": {"steps": steps or [{"setWeight": 50}], "hooks": hooks}})


def problems(hooks: list[dict[str, Any]], steps: list[dict[str, Any]] | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        canary_with(hooks, steps)
    return "\n".join(caught.value.problems)


def test_a_valid_hook_and_webhook_step_load_with_durations_and_defaults() -> None:
    step = {"webhook": {"name": "suite", "url": URL, "timeout": "5s"}}
    rollout = canary_with(
        [
            {
                "name": "smoke",
                "type": "preRollout",
                "url": URL,
                "metadata": {"v": "{{canary.version}}"},
            }
        ],
        [step],
    )
    (hook,) = rollout.spec.strategy.canary.hooks
    assert (hook.timeout, hook.retries, hook.on_failure) == (10.0, 2, None)
    assert rollout.spec.strategy.canary.steps[0].webhook.timeout == 5.0


@pytest.mark.parametrize(
    ("hook", "field"),
    [
        ({"type": "preRollout", "url": "ftp://x"}, "url"),
        ({"type": "preRollout", "url": URL, "timeout": "0s"}, "timeout"),
        ({"type": "preRollout", "url": URL, "retries": 11}, "retries"),
        ({"type": "event", "url": URL}, "type"),
        ({"type": "preRollout", "url": URL, "onFailure": "retry"}, "onFailure"),
        ({"type": "preRollout", "url": URL, "secret": {"env": "1BAD"}}, "secret.env"),
        ({"type": "preRollout", "url": URL, "metadata": {"k": "a\x00b"}}, "metadata"),
    ],
)
def test_bad_hooks_are_errors_naming_the_field(hook: dict[str, Any], field: str) -> None:
    assert field in problems([{"name": "h", **hook}])


def test_unknown_metadata_variables_are_rejected_at_lint_time() -> None:
    found = problems(
        [{"name": "h", "type": "preRollout", "url": URL, "metadata": {"x": "{{canary.image}}"}}]
    )
    assert "metadata.x: unknown variable {{canary.image}}" in found


def test_flaggers_event_and_rollout_types_point_to_serinus_equivalents() -> None:
    assert "spec.notifications" in problems([{"name": "h", "type": "event", "url": URL}])
    assert "webhook step" in problems([{"name": "h", "type": "rollout", "url": URL}])


def test_a_reporting_hook_cannot_block() -> None:
    found = problems([{"name": "h", "type": "postRollout", "url": URL, "onFailure": "abort"}])
    assert "a postRollout hook never blocks" in found


def test_hook_names_are_unique_per_type() -> None:
    twice = {"name": "h", "type": "confirmPromotion", "url": URL}
    assert "two confirmPromotion hooks are named 'h'" in problems([twice, twice])
    canary_with([twice, {**twice, "type": "preRollout"}])  # same name, other type: fine


GATE = GateState(id="preRollout/h", name="h", kind="preRollout", started_at=10.0, next_at=10.0)


def answered(ok: bool, code: int | None = 200) -> GateCall:
    return GateCall(
        ok=ok, status_code=code, duration=0.12345, attempts=2, description=f"HTTP {code}"
    )


def test_a_2xx_passes_whatever_the_policy() -> None:
    for policy in ("abort", "hold", "continue"):
        passed = record_call(GATE, answered(True), 20.0, policy, 5.0)  # type: ignore[arg-type]
        assert passed.phase is GatePhase.PASSED and passed.calls == 1


def test_a_held_gate_stays_pending_until_its_interval_passes() -> None:
    held = record_call(GATE, answered(False, 503), 20.0, "hold", 5.0)
    assert (held.phase, held.next_at, held.calls, held.status_code) == (
        GatePhase.PENDING,
        25.0,
        1,
        503,
    )
    assert held.duration == 0.123


def test_abort_and_continue_fail_the_gate_for_good() -> None:
    for policy in ("abort", "continue"):
        failed = record_call(GATE, answered(False, None), 20.0, policy, 5.0)  # type: ignore[arg-type]
        assert failed.phase is GatePhase.FAILED and failed.status_code is None


JOB = {
    "spec": {"template": {"spec": {"containers": [{"name": "smoke", "image": "smoke:1"}]}}},
    "serviceAccountName": "smoke-tests",
}


def test_a_gate_can_be_a_job_with_the_job_providers_checks() -> None:
    rollout = canary_with(
        [{"name": "smoke", "type": "preRollout", "job": JOB}],
        [{"webhook": {"name": "suite", "job": {**JOB, "timeout": "5m"}}}],
    )
    (hook,) = rollout.spec.strategy.canary.hooks
    assert hook.url is None and hook.job is not None and hook.job.timeout == 600.0
    assert rollout.spec.strategy.canary.steps[0].webhook.job.timeout == 300.0


@pytest.mark.parametrize(
    ("hook", "field"),
    [
        ({"type": "preRollout"}, "url, job: exactly one"),
        ({"type": "preRollout", "url": URL, "job": JOB}, "url, job: exactly one"),
        ({"type": "preRollout", "job": JOB, "secret": {"env": "KEY"}}, "secret: signs HTTP"),
        ({"type": "preRollout", "job": {**JOB, "serviceAccountName": "Bad"}}, "serviceAccountName"),
        (
            {
                "type": "preRollout",
                "job": {
                    **JOB,
                    "spec": {
                        "template": {
                            "spec": {"serviceAccount": "admin", "containers": [{"name": "x"}]}
                        }
                    },
                },
            },
            "spec.template.spec.serviceAccount: set provider.job.serviceAccountName instead",
        ),
        ({"type": "preRollout", "job": {**JOB, "spec": {"template": {}}}}, "containers"),
    ],
)
def test_bad_job_gates_are_errors_naming_the_field(hook: dict[str, Any], field: str) -> None:
    assert field in problems([{"name": "h", **hook}])


def test_a_running_job_keeps_the_call_pending_and_uncounted() -> None:
    running = GateCall(
        ok=False,
        status_code=None,
        duration=3.0,
        attempts=0,
        description="job running",
        pending=True,
        next_in=5.0,
    )
    for policy in ("abort", "hold", "continue"):
        held = record_call(GATE, running, 20.0, policy, 30.0)  # type: ignore[arg-type]
        assert (held.phase, held.next_at, held.calls) == (GatePhase.PENDING, 25.0, GATE.calls)
        assert held.description == "job running"
