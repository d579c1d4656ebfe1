"""A version that cannot run fails itself, never the version that replaces it (found by the
model test: a color still reporting the previous version's failure failed the next one)."""

from __future__ import annotations

from strategy_world import World, make_rollout

from serinus.core.status import ColorState, Phase

STEPS = {"blueGreenCanary": {"steps": [{"setWeight": 10}, {"pause": {}}]}}


def test_a_new_version_after_a_failed_first_deployment_is_not_failed_for_it() -> None:
    world = World(make_rollout(STEPS), ready_on_ensure=False)
    world.step()
    world.colors["blue"] = ColorState(version="v1", desired=3, ready=0, failure="exits 1")
    assert world.step().status.phase is Phase.FAILED

    world.ready_on_ensure = True
    world.deploy("v2")  # the platform still reports v1's failure on blue in this reconcile
    status = world.settle()

    assert status.phase is Phase.COMPLETED, status.message
    assert status.stable is not None and status.stable.version == "v2"


def test_superseding_a_failing_canary_does_not_fail_the_new_one() -> None:
    world = World(make_rollout(STEPS))
    world.settle()
    world.deploy("v2")
    world.ready_on_ensure = False
    world.step()
    world.colors["green"] = ColorState(version="v2", desired=3, ready=0, failure="exits 1")

    world.ready_on_ensure = True
    world.deploy("v3")  # green still reports v2's failure in this reconcile
    status = world.settle()

    assert status.phase is Phase.PAUSED, status.message
    assert status.canary is not None and status.canary.version == "v3"
