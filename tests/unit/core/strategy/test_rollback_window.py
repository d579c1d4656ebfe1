"""The rollback window (issue 13 item 2): the previous version kept after completion, an undo
within it moves traffic back without provisioning, and the window closes on time."""

from __future__ import annotations

from typing import Any

import pytest
from strategy_world import World, make_rollout

from serinus.core.actions import EnsureVersion, TearDown
from serinus.core.errors import InvalidInput
from serinus.core.events import EventType
from serinus.core.intents import IntentKind
from serinus.core.status import Phase, RolloutStatus, ScheduledTeardown

WINDOW = {"duration": "10m"}
DELAYS = {"scaleDownDelay": 5, "abortScaleDownDelay": 7}


def strategy(kind: str, window: dict[str, Any] | None = WINDOW) -> dict[str, Any]:
    body: dict[str, Any] = dict(DELAYS)
    if kind != "blueGreen":
        body["steps"] = [{"setWeight": 50}]
    if window is not None:
        body["rollbackWindow"] = window
    return {kind: body}


def completed_with_window(kind: str = "blueGreenCanary", **window: Any) -> World:
    """v2 live on green, the window open on blue (v1)."""
    world = World(make_rollout(strategy(kind, {**WINDOW, **window})))
    world.settle()
    world.deploy("v2")
    world.settle()
    status = world.settle(advance=5.0)
    assert status.phase is Phase.COMPLETED and status.rollback_window is not None
    return world


def events_of(world: World, kind: EventType) -> list[str]:
    return [e.message for d in world.decisions for e in d.events if e.type is kind]


def undo(world: World) -> None:
    """What `serinus undo` does: the spec back on the previous version, and the intent."""
    assert world.status is not None and world.status.previous_version is not None
    world.deploy(world.status.previous_version)
    world.ask(IntentKind.UNDO)


@pytest.mark.parametrize("kind", ["blueGreenCanary", "canary", "blueGreen"])
def test_completion_keeps_the_previous_version_at_weight_zero(kind: str) -> None:
    world = completed_with_window(kind)
    status = world.status
    assert status is not None and status.stable is not None
    assert status.rollback_window is not None
    assert (status.rollback_window.color, status.rollback_window.version) == ("blue", "v1")
    (opened,) = [
        e for d in world.decisions for e in d.events if e.type is EventType.ROLLBACK_WINDOW_OPENED
    ]
    assert status.rollback_window.until == opened.at + 600
    assert world.colors["blue"].version == "v1" and world.colors["blue"].desired == 3
    assert world.weights == {"green": 100, "blue": 0}
    assert status.terminal, "the rollout is complete while the window is open"
    assert "v1 kept for an instant undo" in status.message
    assert "v1 kept at 3/3 replicas for 600s" in opened.message


def test_a_share_keeps_that_part_of_the_full_size() -> None:
    world = completed_with_window(replicas="34%")
    assert world.status is not None and world.status.rollback_window is not None
    assert world.status.rollback_window.replicas == 2  # 34% of 3, rounded up
    assert world.colors["blue"].desired == 2
    world = completed_with_window(replicas=1)
    assert world.colors["blue"].desired == 1


@pytest.mark.parametrize("kind", ["blueGreenCanary", "canary", "blueGreen"])
def test_undo_within_a_full_window_moves_all_traffic_in_one_decision(kind: str) -> None:
    world = completed_with_window(kind)
    before = len(world.log)
    undo(world)
    decision = world.decisions[-1]
    assert world.weights == {"blue": 100, "green": 0}
    assert not [a for a in world.log[before:] if isinstance(a, EnsureVersion)], "provisioned"
    status = decision.status
    assert status.stable is not None and status.stable.version == "v1"
    assert status.phase is Phase.COMPLETED and status.rollback_window is None
    assert status.message.startswith("rolled back to v1 within the rollback window")
    (outcome,) = [i.outcome for i in decision.consumed]
    assert outcome == "rolled back to v1 within the rollback window"
    (rolled,) = [e for e in decision.events if e.type is EventType.ROLLED_BACK]
    assert "all traffic back on v1" in rolled.message
    changed = [e for e in decision.events if e.type is EventType.WEIGHTS_CHANGED]
    assert [e.data["weights"] for e in changed] == [{"v2": 0, "v1": 100}]
    # the undone version is left for abortScaleDownDelay, then torn down
    assert [(t.version, t.due) for t in status.teardowns] == [("v2", world.now + 7)]
    assert not status.terminal
    world.settle(advance=7.0)
    assert "green" not in world.colors
    assert world.status is not None and world.status.terminal


def test_undo_within_a_partial_window_moves_what_is_ready_then_the_rest() -> None:
    world = completed_with_window(replicas=1)
    world.ready_on_ensure = False
    undo(world)
    assert world.weights == {"blue": 33, "green": 67}, "1 of 3 ready carries a third at once"
    assert world.colors["blue"].desired == 3, "scaled back up to full size"
    assert world.status is not None
    assert "1/3 replicas of v1 ready" in events_of(world, EventType.ROLLED_BACK)[0]
    world.make_ready("blue")
    world.settle(advance=7.0)
    assert world.weights == {"blue": 100, "green": 0}
    assert world.status is not None and world.status.terminal


def test_the_spec_edited_back_rolls_back_the_same_way() -> None:
    world = completed_with_window()
    world.deploy("v1")
    world.step()
    assert world.weights == {"blue": 100, "green": 0}
    assert events_of(world, EventType.ROLLED_BACK)


def test_the_window_closes_on_time_and_tears_the_color_down() -> None:
    world = completed_with_window()
    assert world.status is not None and world.status.rollback_window is not None
    until = world.status.rollback_window.until
    assert world.decisions[-1].wake_at == until, "whoever reconciles is woken when it closes"
    world.step(advance=until - world.now - 1)
    assert "blue" in world.colors, "kept until `until`"
    world.step(advance=1)
    assert [a for a in world.log if isinstance(a, TearDown) and a.color == "blue"]
    status = world.settle()
    assert status.rollback_window is None and "blue" not in world.colors and status.terminal
    assert events_of(world, EventType.ROLLBACK_WINDOW_CLOSED)


def test_undo_after_the_window_is_a_full_rollout() -> None:
    world = completed_with_window()
    world.step(advance=600)
    world.settle()
    undo(world)
    status = world.status
    assert status is not None and status.canary is not None
    assert (status.canary.version, status.phase) == ("v1", Phase.PROVISIONING)
    assert EnsureVersion(color="blue", version="v1", replicas=3) in world.log[-3:]


def test_a_new_rollout_closes_the_window_and_reuses_the_color() -> None:
    world = completed_with_window()
    world.deploy("v3")
    world.step()
    status = world.status
    assert status is not None and status.rollback_window is None
    assert status.canary is not None and status.canary.color == "blue"
    assert world.colors["blue"].version == "v3", "replaced: the kept version had no traffic"
    assert "v3 needs the color of v1" in events_of(world, EventType.ROLLBACK_WINDOW_CLOSED)[0]
    status = world.settle(advance=5.0)
    assert status.stable is not None and status.stable.version == "v3"
    assert status.rollback_window is not None and status.rollback_window.version == "v2"


def test_abort_and_revert_say_the_weights_changed() -> None:
    world = World(make_rollout(strategy("blueGreenCanary", None)))
    world.settle()
    world.deploy("v2")
    world.settle()
    world.rollout = make_rollout(
        {"blueGreenCanary": {"steps": [{"setWeight": 50}, {"pause": {}}], **DELAYS}}, "v2"
    )
    world.deploy("v3")
    world.settle()
    assert world.weights == {"green": 50, "blue": 50}
    world.ask(IntentKind.ABORT)
    changed = [e for e in world.decisions[-1].events if e.type is EventType.WEIGHTS_CHANGED]
    assert [e.message for e in changed] == ["v3 0% / v2 100%"]
    world.ask(IntentKind.RETRY)
    retried = [e for e in world.decisions[-1].events if e.type is EventType.WEIGHTS_CHANGED]
    assert [e.message for e in retried] == ["v3 50% / v2 50%"], "the retry runs setWeight again"
    world.deploy("v2")
    world.step()
    reverted = [e for e in world.decisions[-1].events if e.type is EventType.WEIGHTS_CHANGED]
    assert [e.message for e in reverted] == ["v3 0% / v2 100%"]


def _lint(strategy_body: dict[str, Any]) -> str:
    with pytest.raises(InvalidInput) as caught:
        make_rollout(strategy_body)
    return str(caught.value)


def test_what_a_window_cannot_do_is_refused_naming_the_field() -> None:
    assert "spec.strategy.rollingUpdate: rollbackWindow: a rolling update" in _lint(
        {"rollingUpdate": {"rollbackWindow": WINDOW}}
    )
    assert "rollbackWindow.revisions: 2 revisions cannot be kept" in _lint(
        strategy("canary", {**WINDOW, "revisions": 2})
    )
    assert "rollbackWindow.replicas: 4 is more than the workload's 3 replicas" in _lint(
        strategy("canary", {**WINDOW, "replicas": 4})
    )
    for bad in ("0%", "101%", 0, 0.5, True):
        assert "rollbackWindow.replicas" in _lint(
            strategy("blueGreen", {**WINDOW, "replicas": bad})
        )
    assert "rollbackWindow.duration" in _lint(strategy("blueGreen", {"duration": 0}))


def test_an_older_status_without_the_window_still_loads() -> None:
    status = RolloutStatus.from_storage({"phase": "Completed"})
    assert status.rollback_window is None and status.router_outage is None


def test_a_new_rollout_promoted_at_once_leaves_nothing_of_the_kept_version_behind() -> None:
    """The kept version's drain record must not outlive it when the new version on its color
    is promoted before the record is processed (it once held ScalingDown for ever)."""
    world = completed_with_window()
    world.deploy("v3")
    world.step()
    world.ask(IntentKind.PROMOTE_FULL)
    status = world.settle(advance=5.0)
    assert status.stable is not None and status.stable.version == "v3"
    assert status.phase is Phase.COMPLETED and status.terminal
    assert [t.version for t in status.teardowns] == []
    assert status.rollback_window is not None and status.rollback_window.version == "v2"
    world.ask(IntentKind.ABORT)  # nothing to abort any more: refused, nothing crashes
    assert world.decisions[-1].consumed[0].outcome is not None
    assert world.decisions[-1].consumed[0].outcome.startswith("rejected")


def test_an_abort_while_scaling_down_beside_an_open_window_goes_back_to_the_kept_version() -> None:
    """ScalingDown (a drain record left) with the previous version already kept by the window:
    the abort rolls the promotion back to the kept one (Aborted: the spec still says v2)."""
    world = completed_with_window()
    assert world.status is not None
    world.status = world.status.model_copy(
        update={
            "phase": Phase.SCALING_DOWN,
            "teardowns": [ScheduledTeardown(color="green", version="v0", due=world.now + 60)],
        }
    )
    world.ask(IntentKind.ABORT)
    status = world.status
    assert status is not None and status.stable is not None
    assert status.stable.version == "v1" and world.weights == {"blue": 100, "green": 0}
    assert status.phase is Phase.ABORTED and status.rollback_window is None
    assert status.canary is not None and status.canary.version == "v2"
    assert "rolled back the promotion of v2" in status.message
