"""The one authorization rule, decisions bound to what was seen, and the engine's re-check."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategy_world import World, make_rollout

from serinus.core.authorization import (
    Gate,
    admission,
    binding_conflict,
    denial,
    gates_passed,
    needs,
    sealed,
    vouched,
)
from serinus.core.intents import STATUS_WRITER, UNRESTRICTED, Grants, Intent, IntentKind
from serinus.core.status import Phase, Revision, RolloutStatus
from serinus.core.strategy.plan import Plan, plan_for

STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"judgement": {"instructions": "look"}},
    {"setWeight": 50},
    {"judgement": {"requiredRoles": ["security", "sre"]}},
    {"analysis": {"templates": ["latency"]}},
    {"setWeight": 100},
]
PROMETHEUS = {"prometheus": {"address": "http://127.0.0.1:9090", "query": "up"}}
TEMPLATES = [
    {
        "name": "latency",
        "metrics": [{"name": "m", "successCondition": "result[0] < 1", "provider": PROMETHEUS}],
    }
]
DEPLOYER = Grants(verbs=("get", "promote", "abort"), roles=())
APPROVER = Grants(verbs=("get", "judge"), roles=())
BOTH = Grants(verbs=("get", "promote", "judge"), roles=())
SECURITY = Grants(verbs=("get", "promote", "judge"), roles=("security",))


def plan(steps: list[dict[str, Any]] = STEPS) -> Plan:
    strategy = {"blueGreenCanary": {"steps": steps}}
    return plan_for(make_rollout(strategy, analysisTemplates=TEMPLATES).spec)


def status(phase: Phase, step: int, revision: int = 3) -> RolloutStatus:
    return RolloutStatus(
        phase=phase,
        stable=Revision(version="v1", color="blue"),
        canary=Revision(version="v2", color="green"),
        step_index=step,
        revision=revision,
    )


AWAITING = Phase.AWAITING_JUDGEMENT


@pytest.mark.parametrize(
    ("kind", "at", "phase", "gates"),
    [
        (IntentKind.JUDGE, 1, AWAITING, [Gate(1, ())]),
        (IntentKind.JUDGE, 3, AWAITING, [Gate(3, ("security", "sre"))]),
        (IntentKind.JUDGE, 4, AWAITING, [Gate(4, (), analysis=True)]),
        (
            IntentKind.PROMOTE_FULL,
            0,
            Phase.PROGRESSING,
            [Gate(1, ()), Gate(3, ("security", "sre"))],
        ),
        (IntentKind.PROMOTE_FULL, 1, AWAITING, [Gate(1, ()), Gate(3, ("security", "sre"))]),
        (IntentKind.PROMOTE_FULL, 2, Phase.PROGRESSING, [Gate(3, ("security", "sre"))]),
        (IntentKind.PROMOTE_FULL, 4, AWAITING, [Gate(4, (), analysis=True)]),
        (IntentKind.PROMOTE_FULL, 4, Phase.PROGRESSING, []),  # a running analysis is no gate
        (IntentKind.PROMOTE_FULL, 6, Phase.PROMOTING, []),
        (IntentKind.ABORT, 1, AWAITING, []),
        (IntentKind.PAUSE, 1, AWAITING, []),
    ],
)
def test_the_gates_an_operation_passes(
    kind: IntentKind, at: int, phase: Phase, gates: list[Gate]
) -> None:
    assert list(gates_passed(kind, plan(), status(phase, at))) == gates


@pytest.mark.parametrize(
    ("kind", "at", "phase", "grants", "refused"),
    [
        # A deployer cannot skip a judgement with promote --full: it needs the judge verb.
        (IntentKind.PROMOTE_FULL, 1, AWAITING, DEPLOYER, "needs permission to judge"),
        (IntentKind.PROMOTE_FULL, 0, Phase.PROGRESSING, DEPLOYER, "needs permission to judge"),
        # Holding both verbs is not enough for a judgement ahead that needs a role.
        (IntentKind.PROMOTE_FULL, 2, Phase.PROGRESSING, BOTH, "needs one of the roles security"),
        (IntentKind.PROMOTE_FULL, 2, Phase.PROGRESSING, SECURITY, None),
        (IntentKind.PROMOTE_FULL, 5, Phase.PROGRESSING, DEPLOYER, None),  # no gate left
        (IntentKind.JUDGE, 1, AWAITING, DEPLOYER, "needs permission to judge"),
        (IntentKind.JUDGE, 1, AWAITING, APPROVER, None),
        (IntentKind.JUDGE, 3, AWAITING, APPROVER, "decides the judgement at step 4"),
        (IntentKind.JUDGE, 3, AWAITING, SECURITY, None),
        (IntentKind.JUDGE, 4, AWAITING, APPROVER, None),  # an inconclusive analysis
        (IntentKind.ABORT, 1, AWAITING, APPROVER, "abort needs permission to abort"),
        (IntentKind.ABORT, 3, AWAITING, DEPLOYER, None),
        # No role system (the local CLI): everything.
        (IntentKind.PROMOTE_FULL, 0, Phase.PROGRESSING, UNRESTRICTED, None),
        # A status writer: every plain operation, no judgement role.
        (IntentKind.JUDGE, 1, AWAITING, STATUS_WRITER, None),
        (IntentKind.JUDGE, 3, AWAITING, STATUS_WRITER, "needs one of the roles security, sre"),
        (IntentKind.PROMOTE_FULL, 2, Phase.PROGRESSING, STATUS_WRITER, "needs one of the roles"),
    ],
)
def test_one_rule_for_every_operation_that_passes_a_gate(
    kind: IntentKind, at: int, phase: Phase, grants: Grants, refused: str | None
) -> None:
    current = status(phase, at)
    denied = denial(kind, needs(kind, plan(), current), grants, "dan")
    if refused is None:
        assert denied is None
    else:
        assert denied is not None and refused in denied.message
        assert "dan" in denied.message


@given(
    at=st.integers(0, len(STEPS) - 1),
    verbs=st.sets(st.sampled_from(["get", "promote", "judge", "abort"])),
    roles=st.sets(st.sampled_from(["security", "sre", "other"])),
)
def test_promote_full_is_allowed_only_with_every_skipped_gate_s_rights(
    at: int, verbs: set[str], roles: set[str]
) -> None:
    current = status(Phase.PROGRESSING, at)
    grants = Grants(verbs=tuple(sorted(verbs)), roles=tuple(sorted(roles)))
    allowed = denial(IntentKind.PROMOTE_FULL, needs(IntentKind.PROMOTE_FULL, plan(), current),
                     grants, "x") is None  # fmt: skip
    judgements_ahead = [i for i in (1, 3) if i >= at]
    expected = "promote" in verbs and (
        not judgements_ahead
        or ("judge" in verbs and (3 not in judgements_ahead or bool(roles & {"security", "sre"})))
    )
    assert allowed == expected


def test_a_stale_decision_says_what_changed() -> None:
    now = status(Phase.PROGRESSING, 0, revision=4)
    assert binding_conflict(IntentKind.JUDGE, 3, 1, now) == (
        "the judgement you saw (revision 3, step 2) is no longer pending: "
        "the rollout is at revision 4, step 1 (Progressing)"
    )
    assert binding_conflict(IntentKind.PROMOTE, None, 1, now) == (
        "the rollout you saw (step 2) has moved on: the rollout is at revision 4, step 1 "
        "(Progressing)"
    )
    assert binding_conflict(IntentKind.JUDGE, 4, 0, now) is None
    assert binding_conflict(IntentKind.JUDGE, None, None, now) is None


def judge(**fields: Any) -> Intent:
    return Intent(kind=IntentKind.JUDGE, id=1, actor="ann", approve=True, **fields)


def test_the_engine_checks_the_intent_again_against_the_rollout_as_it_is_now() -> None:
    current = status(AWAITING, 3)
    # Authorized when requested (at step 2), but the rollout is now at a role-gated judgement.
    assert admission(judge(grants=APPROVER), plan(), current) == (
        "judge decides the judgement at step 4, which needs one of the roles security, sre; "
        "ann has: none"
    )
    stale = admission(judge(grants=SECURITY, revision=3, step=1), plan(), current)
    assert stale is not None and "(revision 3, step 2) is no longer pending" in stale
    assert admission(judge(grants=SECURITY, revision=3, step=3), plan(), current) is None
    assert admission(judge(), plan(), status(Phase.PROGRESSING, 2)) == (
        "no judgement is pending: the rollout is Progressing"
    )


KEY = b"k" * 32


def test_only_intents_the_operator_sealed_keep_their_grants() -> None:
    intent = judge(grants=SECURITY, revision=3, step=3, groups=("security-team",))
    assert vouched(sealed(intent, KEY), KEY).grants == SECURITY
    assert vouched(intent, KEY).grants == STATUS_WRITER  # written straight into the status
    assert vouched(intent, None).grants == SECURITY  # local mode: no operator, no seals
    for forged in (
        {"actor": "mallory"},
        {"grants": Grants(verbs=None, roles=("security", "sre"))},
        {"step": 4},
        {"approve": False},
    ):
        tampered = sealed(intent, KEY).model_copy(update=forged)
        assert vouched(tampered, KEY).grants == STATUS_WRITER, forged
    assert vouched(sealed(intent, b"another key"), KEY).grants == STATUS_WRITER


GATED = [
    {"setWeight": 10},
    {"judgement": {"instructions": "first"}},
    {"setWeight": 20},
    {"judgement": {"requiredRoles": ["security"]}},
    {"setWeight": 100},
]


def gated_world() -> World:
    world = World(make_rollout({"blueGreenCanary": {"steps": GATED}}, "v1"))
    world.settle()
    world.rollout = make_rollout({"blueGreenCanary": {"steps": GATED}}, "v2")
    status = world.settle()
    assert status.phase is AWAITING and status.step_index == 1
    return world


def outcomes(world: World) -> list[str | None]:
    return [i.outcome for d in world.decisions[-1:] for i in d.consumed]


def test_the_engine_refuses_a_deployer_s_full_promotion_past_a_judgement() -> None:
    world = gated_world()
    world.ask(IntentKind.PROMOTE_FULL, grants=DEPLOYER)
    [outcome] = outcomes(world)
    assert outcome is not None and outcome.startswith("rejected: promote-full needs permission")
    assert world.status is not None and world.status.phase is AWAITING
    world.ask(IntentKind.PROMOTE_FULL, grants=BOTH)
    [outcome] = outcomes(world)
    assert outcome is not None and "needs one of the roles security" in outcome
    world.ask(IntentKind.PROMOTE_FULL, grants=SECURITY)
    assert outcomes(world) == ["done"]
    assert world.status is not None
    assert world.status.phase in (Phase.PROMOTING, Phase.SCALING_DOWN)


def test_a_double_approval_never_approves_the_next_judgement() -> None:
    world = gated_world()
    assert world.status is not None
    seen = {"revision": world.status.revision, "step": 1}
    world.intents = [
        Intent(kind=IntentKind.JUDGE, id=1, actor="ann", approve=True, **seen),
        Intent(kind=IntentKind.JUDGE, id=2, actor="ann", approve=True, **seen),
    ]
    world.step()
    first, second = world.decisions[-1].consumed
    assert first.outcome == "done"
    assert second.outcome is not None and second.outcome.startswith("rejected")
    status = world.settle()
    assert status.phase is AWAITING and status.step_index == 3  # the gated one still waits
    # The same click arriving later, once the rollout waits at the next judgement: refused.
    world.ask(IntentKind.JUDGE, approve=True, **seen)
    [late] = outcomes(world)
    assert late is not None and "(revision 2, step 2) is no longer pending" in late
    assert world.status is not None and world.status.step_index == 3
