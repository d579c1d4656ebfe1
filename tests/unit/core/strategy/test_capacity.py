"""The capacity rule (every weight write) and the paths it fixes: abort, revert, supersede."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from strategy_world import World, make_rollout

from serinus.core.actions import EnsureVersion, SetWeights, TearDown
from serinus.core.intents import IntentKind
from serinus.core.status import COLORS, Phase
from serinus.core.strategy.capacity import routable

ROLLING: dict[str, Any] = {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
BGC: dict[str, Any] = {
    "blueGreenCanary": {
        "steps": [{"setWeight": 60}, {"pause": {}}],
        "scaleDownDelay": 0,
        "abortScaleDownDelay": 0,
    }
}


@given(
    desired=st.integers(min_value=0, max_value=100),
    ready=st.tuples(st.integers(0, 5), st.integers(0, 5)),
    full=st.integers(min_value=1, max_value=5),
)
def test_weights_go_only_where_ready_capacity_is(
    desired: int, ready: tuple[int, int], full: int
) -> None:
    ready_by_color = dict(zip(COLORS, ready, strict=True))
    result = routable({"blue": desired, "green": 100 - desired}, ready_by_color, full)
    if not any(ready):
        assert result is None  # nothing can carry traffic: the router is left alone
        return
    assert result is not None and sum(result.values()) == 100
    for color in COLORS:
        if ready_by_color[color] == 0:
            assert result[color] == 0
    if all(count >= full for count in ready):
        assert result == {"blue": desired, "green": 100 - desired}  # enough capacity: as desired


def test_a_partly_ready_color_carries_at_most_its_share() -> None:
    assert routable({"blue": 100, "green": 0}, {"blue": 1, "green": 3}, 3) == {
        "blue": 33,
        "green": 67,
    }


def rolling_mid_way() -> World:
    """v1 -> v2 rolling update of 3 with v1 down to 1 replica and v2 at 3 ready."""
    world = World(make_rollout(ROLLING, "v1", 3))
    world.settle()
    world.deploy("v2")
    for _ in range(20):
        world.step()
        assert world.status is not None
        if world.status.replicas.get("blue") == 1 and world.colors["green"].ready == 3:
            break
    assert world.colors["blue"].ready == 1 and world.status is not None
    assert world.status.phase is Phase.PROGRESSING
    world.ready_on_ensure = False
    return world


def test_abort_of_a_rolling_update_is_a_reverse_rolling_update() -> None:
    world = rolling_mid_way()
    world.ask(IntentKind.ABORT)
    status = world.settle()
    assert status.phase is Phase.ABORTED and not status.terminal
    assert world.colors["blue"].desired == 3, "the old version is scaled back up first"
    assert world.version_weights() == {"v1": 33, "v2": 67}, "traffic only where capacity is"
    assert "green" in world.colors, "the new version serves until v1 can"
    assert "waiting for replicas of v1 to be ready (1/3 now)" in status.message
    world.colors["blue"] = world.colors["blue"].model_copy(update={"ready": 2})
    world.settle()
    assert world.version_weights() == {"v1": 67, "v2": 33}
    world.make_ready("blue")
    status = world.settle()
    assert world.version_weights() == {"v1": 100}
    assert "green" not in world.colors, "then the new version is scaled down"
    assert status.terminal and status.converged


def test_revert_of_the_version_mid_rolling_update_moves_back_as_v1_is_ready() -> None:
    world = rolling_mid_way()
    world.deploy("v1")
    status = world.settle()
    assert status.canary is None and not status.terminal
    assert world.version_weights() == {"v1": 33, "v2": 67}
    world.make_ready("blue")
    status = world.settle()
    assert world.version_weights() == {"v1": 100} and "green" not in world.colors
    assert status.phase is Phase.COMPLETED and status.terminal


def test_a_newer_version_superseding_a_rolling_update_drains_the_old_canary_first() -> None:
    world = rolling_mid_way()
    world.deploy("v3")
    world.settle()
    assert world.colors["green"].version == "v2", "v2 serves until v1 can take the traffic"
    assert world.version_weights() == {"v1": 33, "v2": 67}
    world.make_ready("blue")
    world.ready_on_ensure = True
    status = world.settle(rounds=40)
    assert status.stable is not None and status.stable.version == "v3"
    assert world.version_weights() == {"v3": 100}


def test_abort_takes_effect_in_one_reconcile_when_stable_is_ready() -> None:
    world = World(make_rollout(BGC, "v1"))
    world.settle()
    world.deploy("v2")
    world.settle()
    assert world.version_weights() == {"v1": 40, "v2": 60}
    decision = world.ask(IntentKind.ABORT)
    assert world.version_weights() == {"v1": 100}
    assert [a for a in decision.actions if isinstance(a, TearDown)] == [], "drained first"
    world.settle()
    assert "green" not in world.colors


def test_a_superseded_canary_is_replaced_only_after_its_traffic_moved_off() -> None:
    world = World(make_rollout(BGC, "v1"))
    world.settle()
    world.deploy("v2")
    world.settle()
    world.deploy("v3")
    first = world.step()
    assert first.actions[0] == SetWeights(weights={"blue": 100, "green": 0})
    assert not any(isinstance(a, EnsureVersion) and a.version == "v3" for a in first.actions)
    world.settle()
    assert world.colors["green"].version == "v3"
    assert world.version_weights() == {"v1": 40, "v3": 60}


def test_a_new_version_after_an_aborted_first_deployment_waits_for_its_replicas() -> None:
    world = World(make_rollout(BGC, "v1"), ready_on_ensure=False)
    world.settle()
    world.ask(IntentKind.ABORT)
    assert world.status is not None and world.status.phase is Phase.ABORTED
    world.deploy("v2")
    status = world.settle()
    assert status.phase is Phase.PROVISIONING and status.stable is not None
    assert status.stable.version == "v2" and status.canary is None
    assert world.weights is None, "no traffic to a version that never became ready"
    world.make_ready("blue")
    assert world.settle().phase is Phase.COMPLETED
    assert world.version_weights() == {"v2": 100}


def test_an_aborted_canary_waiting_for_its_scale_down_is_never_provisioned_again() -> None:
    delayed = {"blueGreenCanary": {**BGC["blueGreenCanary"], "abortScaleDownDelay": 30}}
    world = World(make_rollout(delayed, "v1"))
    world.settle()
    world.deploy("v2")
    world.settle()
    world.ask(IntentKind.ABORT)
    world.colors.pop("green")  # its replicas are gone early (a restart lost the teardown)
    decision = world.step(advance=1)
    assert not any(isinstance(a, EnsureVersion) and a.version == "v2" for a in decision.actions)
    assert world.settle(advance=30).terminal
