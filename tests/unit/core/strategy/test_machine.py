"""The state machine over every phase and operation, in a simulated world."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategy_world import World, make_rollout

from serinus.core.actions import EnsureVersion, SetWeights, TearDown
from serinus.core.errors import InvalidInput
from serinus.core.events import EventType
from serinus.core.intents import IntentKind
from serinus.core.status import Phase

SEED_STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"judgement": {"instructions": "check green", "inputs": [{"name": "ticket"}]}},
    {"setWeight": 100},
]


def bgc(steps: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "blueGreenCanary": {
            "steps": SEED_STEPS if steps is None else steps,
            "scaleDownDelay": 30,
            "abortScaleDownDelay": 10,
            **extra,
        }
    }


def live_world(strategy: dict[str, Any], **kwargs: Any) -> World:
    world = World(make_rollout(strategy, "v1"))
    world.settle()
    assert world.status is not None and world.status.phase is Phase.COMPLETED
    for name, value in kwargs.items():
        setattr(world, name, value)
    return world


def event_types(world: World) -> list[EventType]:
    return [e.type for d in world.decisions for e in d.events]


def test_first_deployment_waits_for_readiness_then_takes_all_traffic() -> None:
    world = World(make_rollout(bgc(), "v1"), ready_on_ensure=False)
    status = world.settle()
    assert status.phase is Phase.PROVISIONING
    assert world.weights is None
    world.make_ready("blue")
    status = world.settle()
    assert status.phase is Phase.COMPLETED
    assert world.version_weights() == {"v1": 100}


def test_seed_pipeline_provisions_green_full_size_judges_promotes_and_tears_blue_down() -> None:
    world = live_world(bgc(), ready_on_ensure=False)
    world.deploy("v2")
    status = world.settle()
    assert status.phase is Phase.PROVISIONING
    assert world.colors["green"].desired == 3  # full size, same as blue
    assert world.version_weights() == {"v1": 100}  # nothing goes to unready green
    world.make_ready("green")
    status = world.settle()
    assert status.phase is Phase.AWAITING_JUDGEMENT
    assert world.version_weights() == {"v1": 90, "v2": 10}
    world.ask(IntentKind.JUDGE, approve=True, inputs={"ticket": "OPS-1"})
    status = world.settle()
    assert status.phase is Phase.SCALING_DOWN
    assert world.version_weights() == {"v2": 100}
    assert world.colors["blue"].exists  # kept for a fast rollback
    status = world.settle(advance=31)
    assert status.phase is Phase.COMPLETED
    assert "blue" not in world.colors
    assert status.stable is not None and status.stable.version == "v2"
    assert status.previous_version == "v1"
    judged = [e for d in world.decisions for e in d.events if e.type is EventType.JUDGED]
    assert judged[0].data["inputs"] == {"ticket": "OPS-1"} and judged[0].data["actor"] == "ana"


def test_weights_are_raised_on_green_only_after_every_replica_is_ready() -> None:
    world = live_world(bgc(), ready_on_ensure=False)
    world.deploy("v2")
    world.settle()
    world.colors["green"] = world.colors["green"].model_copy(update={"ready": 2})
    status = world.settle()
    assert status.phase is Phase.PROVISIONING
    assert "2/3 replicas of v2 ready" in status.message


def test_abort_sends_everything_back_at_once_and_keeps_green_for_debugging() -> None:
    world = live_world(bgc())
    world.deploy("v2")
    world.settle()
    decision = world.ask(IntentKind.ABORT, comment="latency")
    assert isinstance(decision.actions[0], SetWeights)
    assert world.version_weights() == {"v1": 100}
    assert world.status is not None and world.status.phase is Phase.ABORTED
    assert "latency" in world.status.message
    assert world.colors["green"].exists
    world.settle(advance=11)
    assert "green" not in world.colors
    assert world.status.phase is Phase.ABORTED


def test_retry_after_abort_starts_the_steps_again() -> None:
    world = live_world(bgc())
    world.deploy("v2")
    world.settle()
    world.ask(IntentKind.ABORT)
    world.settle(advance=11)
    world.ask(IntentKind.RETRY)
    status = world.settle()
    assert status.phase is Phase.AWAITING_JUDGEMENT
    assert world.version_weights() == {"v1": 90, "v2": 10}


def test_rejected_judgement_aborts() -> None:
    world = live_world(bgc())
    world.deploy("v2")
    world.settle()
    world.ask(IntentKind.JUDGE, approve=False, comment="errors up")
    assert world.status is not None and world.status.phase is Phase.ABORTED
    assert world.version_weights() == {"v1": 100}


@pytest.mark.parametrize(
    ("on_timeout", "phase"), [("abort", Phase.ABORTED), ("continue", Phase.SCALING_DOWN)]
)
def test_judgement_timeout(on_timeout: str, phase: Phase) -> None:
    steps = [{"setWeight": 10}, {"judgement": {"timeout": "5m", "onTimeout": on_timeout}}]
    world = live_world(bgc(steps))
    world.deploy("v2")
    assert world.settle().phase is Phase.AWAITING_JUDGEMENT
    assert world.decisions[-1].wake_at == pytest.approx(world.now + 300)
    assert world.settle(advance=299).phase is Phase.AWAITING_JUDGEMENT
    assert world.settle(advance=2).phase is phase


def test_timed_pause_continues_by_itself_and_untimed_pause_waits_for_promote() -> None:
    steps = [{"setWeight": 20}, {"pause": {"duration": "10s"}}, {"setWeight": 50}, {"pause": {}}]
    world = live_world(bgc(steps))
    world.deploy("v2")
    assert world.settle().phase is Phase.PAUSED
    assert world.version_weights() == {"v1": 80, "v2": 20}
    assert world.settle(advance=5).phase is Phase.PAUSED
    assert world.settle(advance=6).phase is Phase.PAUSED  # now at the untimed pause
    assert world.version_weights() == {"v1": 50, "v2": 50}
    assert world.settle(advance=3600).phase is Phase.PAUSED
    world.ask(IntentKind.PROMOTE)
    assert world.settle().phase is Phase.SCALING_DOWN


def test_promote_outside_a_pause_is_rejected_and_changes_nothing() -> None:
    world = live_world(bgc())
    world.deploy("v2")
    world.settle()
    before = world.status
    decision = world.ask(IntentKind.PROMOTE)
    assert decision.consumed[0].outcome is not None
    assert decision.consumed[0].outcome.startswith("rejected")
    assert world.status is not None and before is not None
    assert world.status.phase is before.phase and world.status.step_index == before.step_index


def test_full_promotion_skips_every_remaining_step() -> None:
    world = live_world(bgc())
    world.deploy("v2")
    world.settle()
    world.ask(IntentKind.PROMOTE_FULL)
    assert world.settle().phase is Phase.SCALING_DOWN
    assert world.version_weights() == {"v2": 100}


def test_user_pause_holds_progress_until_resumed() -> None:
    steps = [{"setWeight": 10}, {"pause": {"duration": 5}}, {"setWeight": 60}]
    world = live_world(bgc(steps))
    world.deploy("v2")
    world.settle()
    world.ask(IntentKind.PAUSE)
    assert world.settle(advance=60).phase is Phase.PAUSED
    assert world.version_weights() == {"v1": 90, "v2": 10}
    world.ask(IntentKind.RESUME)
    assert world.settle().phase is Phase.SCALING_DOWN


def test_canary_replicas_follow_the_weight() -> None:
    steps = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    world = live_world({"canary": {"steps": steps}}, ready_on_ensure=True)
    world.rollout = make_rollout({"canary": {"steps": steps}}, "v1", replicas=10)
    world.settle()
    world.deploy("v2")
    world.settle()
    assert world.colors["green"].desired == 1
    assert world.colors["blue"].desired == 10
    world.ask(IntentKind.PROMOTE)
    world.settle()
    assert world.colors["green"].desired == 5
    world.ask(IntentKind.PROMOTE)
    world.settle()
    assert world.colors["green"].desired == 10
    assert world.version_weights() == {"v2": 100}


def test_blue_green_keeps_users_off_green_and_previews_it_until_promoted() -> None:
    world = live_world({"blueGreen": {"autoPromotion": False}})
    world.deploy("v2")
    assert world.settle().phase is Phase.PAUSED
    assert world.preview == "green"
    assert world.version_weights() == {"v1": 100}
    world.ask(IntentKind.PROMOTE)
    world.settle()
    assert world.version_weights() == {"v2": 100}
    assert world.preview is None


def test_blue_green_auto_promotion_switches_zero_to_hundred() -> None:
    world = live_world({"blueGreen": {"autoPromotionSeconds": 5}})
    world.deploy("v2")
    world.settle()
    assert world.version_weights() == {"v1": 100}
    world.settle(advance=6)
    assert world.version_weights() == {"v2": 100}
    history = [a.weights for a in world.log if isinstance(a, SetWeights)]
    assert {"blue": 0, "green": 100} in history
    assert not any(0 < w["green"] < 100 for w in history)


def test_rolling_update_replaces_replicas_a_few_at_a_time() -> None:
    world = World(make_rollout({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}, "v1", 6))
    world.settle()
    world.deploy("v2")
    peak = 0
    for _ in range(40):
        world.step()
        total = sum(state.desired for state in world.colors.values())
        peak = max(peak, total)
        assert sum(s.ready for s in world.colors.values()) >= 5  # maxUnavailable 1
    assert peak <= 7  # maxSurge 1
    assert world.status is not None and world.status.phase is Phase.COMPLETED
    assert world.version_weights() == {"v2": 100}


def test_a_version_that_cannot_run_fails_the_rollout_and_traffic_stays_on_blue() -> None:
    world = live_world(bgc())
    world.ready_on_ensure = False
    world.deploy("v2")
    world.settle()
    world.colors["green"] = world.colors["green"].model_copy(
        update={"failure": "command exited with code 2"}
    )
    status = world.settle()
    assert status.phase is Phase.FAILED
    assert "exited with code 2" in status.message
    assert world.version_weights() == {"v1": 100}


def test_progress_deadline_fails_a_version_that_never_becomes_ready() -> None:
    world = live_world(bgc())
    world.ready_on_ensure = False
    world.deploy("v2")
    assert world.settle(advance=30).phase is Phase.PROVISIONING
    status = world.settle(advance=31)
    assert status.phase is Phase.FAILED
    assert "deadline" in status.message
    assert world.version_weights() == {"v1": 100}


def test_a_new_version_mid_rollout_supersedes_the_canary() -> None:
    world = live_world(bgc())
    world.deploy("v2")
    world.settle()
    world.deploy("v3")
    status = world.settle()
    assert status.canary is not None and status.canary.version == "v3"
    assert status.phase is Phase.AWAITING_JUDGEMENT
    assert world.colors["green"].version == "v3"
    assert world.version_weights() == {"v1": 90, "v3": 10}


def test_spec_back_on_the_stable_version_drops_the_canary() -> None:
    world = live_world(bgc())
    world.deploy("v2")
    world.settle()
    world.deploy("v1")
    status = world.settle()
    assert status.phase is Phase.COMPLETED and status.canary is None
    assert "green" not in world.colors
    assert world.version_weights() == {"v1": 100}


def test_abort_after_promotion_rolls_back_while_blue_still_runs() -> None:
    world = live_world(bgc())
    world.deploy("v2")
    world.settle()
    world.ask(IntentKind.PROMOTE_FULL)
    assert world.settle().phase is Phase.SCALING_DOWN
    world.ask(IntentKind.ABORT)
    assert world.version_weights() == {"v1": 100}
    assert world.status is not None and world.status.phase is Phase.ABORTED
    assert world.status.stable is not None and world.status.stable.version == "v1"


def test_header_route_goes_to_green_and_is_removed_on_promotion() -> None:
    steps = [
        {
            "setHeaderRoute": {
                "name": "testers",
                "match": [{"headerName": "X-Tester", "headerValue": {"exact": "1"}}],
            }
        },
        {"pause": {}},
        {"setWeight": 100},
    ]
    world = live_world(bgc(steps))
    world.deploy("v2")
    world.settle()
    assert world.header_routes == {"testers": "green"}
    assert world.version_weights() == {"v1": 100}
    world.ask(IntentKind.PROMOTE)
    world.settle()
    assert world.header_routes == {}


def test_repeating_a_reconcile_in_a_settled_world_does_nothing() -> None:
    world = live_world(bgc())
    world.deploy("v2")
    world.settle()
    again = world.step()
    assert again.actions == [] and again.events == []


def test_operations_that_do_not_apply_are_rejected_with_the_reason() -> None:
    world = live_world(bgc())
    decision = world.ask(IntentKind.JUDGE, approve=True)
    assert (
        decision.consumed[0].outcome
        == "rejected: no judgement is pending: the rollout is Completed"
    )
    assert decision.events[0].type is EventType.OPERATION_REJECTED


OPERATIONS = [
    IntentKind.ABORT,
    IntentKind.RETRY,
    IntentKind.PROMOTE,
    IntentKind.PROMOTE_FULL,
    IntentKind.PAUSE,
    IntentKind.RESUME,
    IntentKind.JUDGE,
]


@settings(max_examples=150, deadline=None)
@given(
    script=st.lists(
        st.one_of(
            st.sampled_from(OPERATIONS),
            st.sampled_from(["v2", "v3", "v1"]),
            st.floats(min_value=0, max_value=40),
            st.just("unready"),
        ),
        max_size=25,
    )
)
def test_invariants_hold_under_any_sequence_of_operations(script: list[Any]) -> None:
    """World.apply asserts: weights sum to 100, no traffic to unready colors, no teardown of a
    serving color. Here: the stable version always has replicas, and the status stays valid."""
    world = live_world(bgc([*SEED_STEPS[:1], {"pause": {"duration": 20}}, *SEED_STEPS[1:]]))
    for item in script:
        if isinstance(item, IntentKind):
            world.ask(item, approve=True if item is IntentKind.JUDGE else None)
        elif item == "unready":
            world.ready_on_ensure = not world.ready_on_ensure
        elif isinstance(item, str):
            world.deploy(item)
        else:
            world.step(advance=item)
        world.settle()
        status = world.status
        assert status is not None and status.stable is not None
        assert world.colors[status.stable.color].version == status.stable.version
        assert sum((world.weights or {}).values()) == 100
        for action in world.log:
            if isinstance(action, EnsureVersion | TearDown):
                assert action.color in ("blue", "green")


ISTIO = {"istio": {"virtualService": {"name": "web"}}}


def test_mirroring_warms_green_with_copies_and_stops_at_promotion() -> None:
    steps = [{"setMirror": {"percentage": 50}}, {"pause": {}}, {"setWeight": 100}]
    world = World(make_rollout(bgc(steps), "v1", trafficRouting=ISTIO))
    world.settle()
    world.deploy("v2")
    assert world.settle().phase is Phase.PAUSED
    assert world.mirror == ("green", 50)
    assert world.version_weights() == {"v1": 100}  # copies only: users are still on blue
    world.ask(IntentKind.PROMOTE)
    world.settle()
    assert world.mirror == (None, 0)
    assert world.version_weights() == {"v2": 100}


def test_mirroring_stops_on_abort() -> None:
    steps = [{"setMirror": {"percentage": 100}}, {"pause": {}}]
    world = World(make_rollout(bgc(steps), "v1", trafficRouting=ISTIO))
    world.settle()
    world.deploy("v2")
    world.settle()
    world.ask(IntentKind.ABORT)
    assert world.mirror == (None, 0)


def test_a_router_that_cannot_mirror_is_refused_at_lint_time() -> None:
    with pytest.raises(InvalidInput) as caught:
        make_rollout(bgc([{"setMirror": {"percentage": 10}}]))
    assert "steps[0].setMirror: the haproxy router cannot mirror traffic" in str(caught.value)


def test_a_header_route_first_gives_the_canary_strategy_one_ready_replica() -> None:
    match = [{"headerName": "X-QA", "headerValue": {"exact": "1"}}]
    steps = [{"setHeaderRoute": {"name": "qa", "match": match}}, {"pause": {}}, {"setWeight": 50}]
    world = World(make_rollout({"canary": {"steps": steps}}, "v1", replicas=4))
    world.settle()
    world.ready_on_ensure = False
    world.deploy("v2")
    world.settle()
    assert world.header_routes == {}  # not before a canary replica is ready
    assert world.colors["green"].desired == 1
    world.make_ready("green")
    assert world.settle().phase is Phase.PAUSED
    assert world.header_routes == {"qa": "green"}
    assert world.version_weights() == {"v1": 100}
