"""Every operation by every role of the tokens file, through the API: one rule decides.

Users: vera (viewer), dan (deployer), ann (approver), sre (approver, deployer and the custom
role sre-lead). `judged` awaits a plain judgement, `gated` one needing sre-lead.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_world import SEEN, Api

from serinus.core.status import Phase

APPROVE = {"approve": True, "inputs": {"ticket": "T-1"}, **SEEN}
ALL = ("vera", "dan", "ann", "sre")
# (rollout, operation, body) -> the users it is accepted from (202); the others get 403.
MATRIX: list[tuple[str, str, dict[str, Any], set[str]]] = [
    ("paused", "resume", {}, {"dan", "sre"}),
    ("judged", "abort", {}, {"dan", "sre"}),
    ("judged", "pause", {}, {"dan", "sre"}),
    ("aborted", "retry", {}, {"dan", "sre"}),
    ("done", "undo", {}, {"dan", "sre"}),
    ("judged", "judge", APPROVE, {"ann", "sre"}),
    ("gated", "judge", {"approve": True, **SEEN}, {"sre"}),
    # promote --full skips the pending judgement: it needs judge as well as promote.
    ("judged", "promote", {"full": True}, {"sre"}),
    ("gated", "promote", {"full": True}, {"sre"}),
]


@pytest.mark.parametrize("user", ALL)
@pytest.mark.parametrize(("name", "op", "body", "accepted"), MATRIX)
async def test_every_operation_by_every_role(
    api: Api, user: str, name: str, op: str, body: dict[str, Any], accepted: set[str]
) -> None:
    response = await api.post(f"/api/v1/rollouts/{name}/{op}", body, user=user)
    if user in accepted:
        assert response.status_code == 202, response.text
        [intent] = await api.store.intents(name)
        assert intent.actor == user
    else:
        assert response.status_code == 403, response.text
        assert user in response.json()["detail"]
        assert await api.store.intents(name) == []


async def test_a_deployer_s_full_promotion_during_a_judgement_is_403_saying_why(api: Api) -> None:
    judge = await api.post("/api/v1/rollouts/gated/judge", {"approve": True, **SEEN}, user="dan")
    full = await api.post("/api/v1/rollouts/gated/promote", {"full": True}, user="dan")
    assert judge.status_code == full.status_code == 403
    assert full.json()["detail"] == (
        "promote-full needs permission to judge (it passes the judgement at step 2); "
        "dan may: abort, get, pause, promote, resume, retry, undo "
        "(the role approver grants it in the tokens file)"
    )


async def test_a_full_promotion_with_a_gated_judgement_still_ahead_needs_its_role(
    api: Api,
) -> None:
    status = await api.store.load("gated")
    assert status is not None
    await api.store.save(
        "gated", status.model_copy(update={"phase": Phase.PROGRESSING, "step_index": 0}), [], []
    )
    refused = await api.post("/api/v1/rollouts/gated/promote", {"full": True}, user="dan")
    assert refused.status_code == 403
    page = (await api.get("/api/v1/rollouts/gated", user="sre")).json()
    assert "promote-full" in page["allowedOperations"]
    assert (
        "promote-full"
        not in (await api.get("/api/v1/rollouts/gated", user="dan")).json()["allowedOperations"]
    )
    assert (
        await api.post("/api/v1/rollouts/gated/promote", {"full": True}, user="sre")
    ).status_code == 202


@pytest.mark.parametrize(
    ("op", "body", "message"),
    [
        (
            "judge",
            {"approve": True, "revision": 2, "step": 1},
            "the judgement you saw (revision 2, step 2) is no longer pending: "
            "the rollout is at revision 0, step 2 (AwaitingJudgement)",
        ),
        (
            "judge",
            {"approve": True, "revision": 0, "step": 0},
            "the judgement you saw (revision 0, step 1) is no longer pending",
        ),
        (
            "promote",
            {"full": True, "revision": 0, "step": 0},
            "the rollout you saw (revision 0, step 1) has moved on",
        ),
    ],
)
async def test_a_stale_decision_is_409_saying_what_changed(
    api: Api, op: str, body: dict[str, Any], message: str
) -> None:
    response = await api.post(f"/api/v1/rollouts/gated/{op}", body, user="sre")
    assert response.status_code == 409
    assert message in response.json()["detail"]
    assert await api.store.intents("gated") == []


async def test_judge_requires_the_revision_and_step_seen(api: Api) -> None:
    response = await api.post("/api/v1/rollouts/judged/judge", {"approve": False}, user="ann")
    assert response.status_code == 422
    assert set(response.json()["problems"]) == {
        "body.revision: Field required",
        "body.step: Field required",
    }
    document = (await api.get("/openapi.json", user=None)).json()
    schema = document["components"]["schemas"]["JudgeRequest"]
    assert {"approve", "revision", "step"} <= set(schema["required"])
    assert "revision" not in document["components"]["schemas"]["PromoteRequest"].get("required", [])


async def test_a_double_approval_is_bound_to_the_judgement_seen(api: Api) -> None:
    # The engine acts on the first and refuses the second (tests/unit/core/test_authorization).
    first = await api.post("/api/v1/rollouts/judged/judge", APPROVE, user="ann")
    second = await api.post("/api/v1/rollouts/judged/judge", APPROVE, user="ann")
    assert first.status_code == second.status_code == 202  # both bound to revision 0, step 2
    intents = await api.store.intents("judged")
    assert [(i.revision, i.step) for i in intents] == [(0, 1), (0, 1)]
