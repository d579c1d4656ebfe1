"""An unreachable router counts against the progress deadline (issue 8, "a dead HAProxy"):
nothing advances or is removed meanwhile, the outage is in the status, and past the deadline
the rollout fails, its abort carried out once the router answers."""

from __future__ import annotations

from strategy_world import World, make_rollout

from serinus.core.actions import RemoveHeaderRoute, SetWeights, TearDown
from serinus.core.events import EventType
from serinus.core.intents import IntentKind
from serinus.core.status import Phase

DEADLINE = 60  # make_rollout's progressDeadlineSeconds
STEPS = [
    {"setWeight": 10},
    {
        "setHeaderRoute": {
            "name": "testers",
            "match": [{"headerName": "x-tester", "headerValue": {"exact": "1"}}],
        }
    },
    {"pause": {}},
    {"setWeight": 50},
    {"pause": {}},
]


def paused_at_ten() -> World:
    world = World(make_rollout({"blueGreenCanary": {"steps": STEPS, "scaleDownDelay": 0}}))
    world.settle()
    world.deploy("v2")
    status = world.settle()
    assert status.phase is Phase.PAUSED and world.weights == {"blue": 90, "green": 10}
    return world


def test_the_outage_is_recorded_and_nothing_advances() -> None:
    world = paused_at_ten()
    world.router_error = "cannot talk to HAProxy: connection refused"
    decision = world.step(advance=1.0)
    status = decision.status
    assert status.router_outage is not None and status.router_outage.since == world.now
    assert status.message.startswith("the router is unreachable: cannot talk to HAProxy")
    assert "fails if that lasts 60s" in status.message
    assert not status.converged and "waiting for the router to answer" in status.waiting_for
    assert [e.type for e in decision.events] == [EventType.ROUTER_UNREACHABLE]
    assert decision.wake_at == world.now + DEADLINE
    # a promote waits, unconsumed, for the router: no promotion while it cannot be checked
    world.intents = []
    world.ask(IntentKind.PROMOTE)
    assert world.decisions[-1].consumed == [] and world.status is not None
    assert world.status.step_index == 2
    assert world.status.router_outage is not None
    assert world.status.router_outage.since == world.now, "since stays when it goes on"


def test_past_the_deadline_the_rollout_fails_and_the_abort_waits_for_the_router() -> None:
    world = paused_at_ten()
    world.router_error = "cannot talk to HAProxy"
    world.step(advance=1.0)
    decision = world.step(advance=DEADLINE)
    status = decision.status
    assert status.phase is Phase.FAILED
    assert "progress deadline (60s) exceeded: the router is unreachable for 60s" in status.message
    assert status.weights == {"blue": 100, "green": 0}, "the abort is decided"
    assert status.header_routes, "kept until the router can remove it"
    assert not [a for a in decision.actions if isinstance(a, SetWeights | TearDown)]
    assert not status.terminal
    world.router_error = None
    decision = world.step(advance=1.0)
    assert world.weights == {"blue": 100, "green": 0}
    assert RemoveHeaderRoute(name="testers") in decision.actions
    assert decision.status.router_outage is None and not decision.status.header_routes
    assert EventType.ROUTER_REACHABLE in [e.type for e in decision.events]
    status = world.settle(advance=30.0)  # the default abortScaleDownDelay
    assert status.phase is Phase.FAILED and status.terminal and "green" not in world.colors


def test_a_short_outage_only_delays_the_rollout() -> None:
    world = paused_at_ten()
    world.router_error = "cannot talk to HAProxy"
    world.step(advance=1.0)
    world.step(advance=DEADLINE - 2)
    world.router_error = None
    world.step(advance=1.0)
    assert world.status is not None and world.status.router_outage is None
    assert world.status.phase is Phase.PAUSED
    assert not world.status.message.startswith("the router is unreachable")
    world.ask(IntentKind.PROMOTE)
    assert world.weights == {"blue": 50, "green": 50}


def test_nothing_is_torn_down_while_the_router_cannot_say_where_traffic_goes() -> None:
    world = World(make_rollout({"blueGreenCanary": {"steps": [], "scaleDownDelay": 0}}))
    world.settle()
    world.deploy("v2")
    world.step()
    world.step()  # promoted: blue waits for its teardown
    assert world.status is not None and world.status.teardowns
    world.router_error = "cannot talk to HAProxy"
    decision = world.step(advance=5.0)
    assert not [a for a in decision.actions if isinstance(a, TearDown)]
    assert "blue" in world.colors
    world.router_error = None
    world.settle(advance=1.0)
    assert "blue" not in world.colors
