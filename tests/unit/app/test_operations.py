"""`operations.request`: the one rule for every source, decisions bound to what was seen, and
sealed intents the operator's engine trusts (memory store, real engine over memory fakes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from api_world import rollout

from serinus.adapters.platforms.memory import MemoryPlatform
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.core.authorization import Denial, Needs
from serinus.core.errors import Conflict, PermissionDenied
from serinus.core.intents import UNRESTRICTED, Grants, Intent, IntentKind
from serinus.core.spec import Rollout
from serinus.core.status import Phase, RolloutStatus

STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"judgement": {"instructions": "first look"}},
    {"setWeight": 20},
    {"judgement": {"requiredRoles": ["security"]}},
    {"setWeight": 100},
]
KEY = b"operator-key-".ljust(32, b"0")


@dataclass
class Fixed:
    """An authority with fixed grants that remembers what it was asked."""

    granted: Grants
    asked: list[Needs]

    async def grants(self, rollout: Rollout, needs: Needs) -> Grants:
        self.asked.append(needs)
        return self.granted

    def explain(self, denied: Denial) -> str:
        return " (ask your admin)"


def authority(verbs: tuple[str, ...], roles: tuple[str, ...] = ()) -> Fixed:
    return Fixed(Grants(verbs=verbs, roles=roles), [])


class World:
    def __init__(self, key: bytes | None = None) -> None:
        self.now = 1000.0
        self.store = MemoryStateStore()
        self.engine = Engine(
            self.store, MemoryRouter(), MemoryPlatform(), clock=lambda: self.now, intent_key=key
        )

    async def run_until(self, phase: Phase, step: int | None = None) -> RolloutStatus:
        for _ in range(60):
            result = await self.engine.reconcile("web")
            assert result.error is None, result.error
            self.now += 1.0
            status = result.status
            if status.phase is phase and (step is None or status.step_index == step):
                return status
        raise AssertionError(f"never reached {phase} at step {step}; last {status}")

    async def start(self) -> RolloutStatus:
        await operations.submit(self.store, rollout("web", STEPS, version="v1"))
        await self.run_until(Phase.COMPLETED)
        await operations.submit(self.store, rollout("web", STEPS, version="v2"))
        return await self.run_until(Phase.AWAITING_JUDGEMENT, 1)

    async def outcome(self, intent: Intent) -> str | None:
        await self.engine.reconcile("web")
        [done] = [i for i in await self.store.intents("web") if i.id == intent.id]
        return done.outcome


async def request(world: World, kind: IntentKind, **options: Any) -> Intent:
    return await operations.request(world.store, "web", kind, actor="dan", source="test", **options)


async def test_every_source_goes_through_the_rule_and_records_what_was_granted() -> None:
    world = World()
    await world.start()
    deployer = authority(("get", "promote", "abort"))
    with pytest.raises(PermissionDenied) as refused:
        await request(world, IntentKind.PROMOTE_FULL, authority=deployer)
    assert str(refused.value) == (
        "promote-full needs permission to judge (it passes the judgement at step 2); "
        "dan may: get, promote, abort (ask your admin)"
    )
    assert deployer.asked[0].verbs == ("promote", "judge")
    assert deployer.asked[0].roles == ("security",)  # the gated judgement ahead is skipped too
    assert await world.store.intents("web") == []
    both = authority(("promote", "judge"))
    with pytest.raises(PermissionDenied, match="skips the judgement at step 4, which needs"):
        await request(world, IntentKind.PROMOTE_FULL, authority=both)
    recorded = await request(world, IntentKind.ABORT, authority=deployer)
    assert recorded.grants == Grants(verbs=("get", "promote", "abort"), roles=())
    local = await request(world, IntentKind.PAUSE)  # the local CLI: no role system
    assert local.grants == UNRESTRICTED


async def test_a_decision_is_bound_to_the_revision_and_step_seen() -> None:
    world = World()
    status = await world.start()
    with pytest.raises(Conflict) as stale:
        await request(world, IntentKind.JUDGE, approve=True, revision=status.revision - 1, step=1)
    assert str(stale.value) == (
        f"cannot judge web: the judgement you saw (revision {status.revision - 1}, step 2) is "
        f"no longer pending: the rollout is at revision {status.revision}, step 2 "
        "(AwaitingJudgement)"
    )
    # Without what was seen, it is bound to the rollout as it is now.
    implicit = await request(world, IntentKind.JUDGE, approve=True)
    assert (implicit.revision, implicit.step) == (status.revision, 1)
    full = await request(world, IntentKind.PROMOTE_FULL)
    assert (full.revision, full.step) == (status.revision, None)  # any step: gates re-checked
    abort = await request(world, IntentKind.ABORT)
    assert (abort.revision, abort.step) == (None, None)


async def test_the_engine_checks_again_when_the_world_moved_on() -> None:
    world = World()
    await world.start()
    # Allowed when asked: the judgement ahead needed no role then ...
    easy = [*STEPS[:3], {"judgement": {}}, STEPS[4]]
    await operations.submit(world.store, rollout("web", easy, version="v2"))
    both = authority(("promote", "judge"))
    intent = await request(world, IntentKind.PROMOTE_FULL, authority=both)
    # ... but the spec now gates it by a role the caller was not found to hold.
    await operations.submit(world.store, rollout("web", STEPS, version="v2"))
    outcome = await world.outcome(intent)
    assert outcome is not None and outcome.startswith("rejected: promote-full skips the judgement")
    status = await world.store.load("web")
    assert status is not None and status.phase is Phase.AWAITING_JUDGEMENT


async def test_an_intent_written_into_the_status_cannot_pass_a_role_gated_judgement() -> None:
    world = World(key=KEY)
    status = await world.start()
    # The plain judgement: a status writer may decide it (Kubernetes let it patch the status).
    first = await world.store.record_intent(
        "web", Intent(kind=IntentKind.JUDGE, actor="eve", approve=True, at=world.now)
    )
    assert await world.outcome(first) == "done"
    status = await world.run_until(Phase.AWAITING_JUDGEMENT, 3)
    # The role-gated one: claimed rights without the operator's seal count for nothing.
    forged = Intent(
        kind=IntentKind.JUDGE,
        actor="security-lead",
        approve=True,
        at=world.now,
        grants=Grants(verbs=None, roles=("security",)),
        revision=status.revision,
        step=3,
    )
    written = await world.store.record_intent("web", forged)
    outcome = await world.outcome(written)
    assert outcome is not None and "needs one of the roles security; security-lead has: none" in (
        outcome
    )
    # The same decision recorded through the operator's API (sealed with its key) is trusted.
    security = authority(("judge",), ("security",))
    sealed = await operations.request(
        world.store,
        "web",
        IntentKind.JUDGE,
        actor="security-lead",
        source="api",
        approve=True,
        authority=security,
        key=KEY,
    )
    assert sealed.proof
    assert await world.outcome(sealed) == "done"
