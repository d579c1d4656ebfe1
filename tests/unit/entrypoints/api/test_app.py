"""The REST API over an in-memory store: reading rollouts and every operation, audited."""

from __future__ import annotations

from typing import Any

import pytest
from api_world import SEEN, Api, auth_header

from serinus.core.intents import IntentKind


async def test_list_shows_every_rollout_with_phase_step_and_weights(api: Api) -> None:
    response = await api.get("/api/v1/rollouts")
    assert response.status_code == 200
    by_name = {r["name"]: r for r in response.json()}
    assert set(by_name) == {"judged", "gated", "paused", "aborted", "done", "fresh"}
    judged = by_name["judged"]
    assert judged["phase"] == "AwaitingJudgement"
    assert judged["weights"] == {"v1": 90, "v2": 10}
    assert judged["step"] == {"index": 1, "total": 3, "description": "judgement"}
    assert by_name["fresh"]["phase"] is None and by_name["fresh"]["weights"] == {}


async def test_detail_has_timeline_replicas_and_pending_judgement(api: Api) -> None:
    body = (await api.get("/api/v1/rollouts/judged", user="ann")).json()
    assert [s["state"] for s in body["steps"]] == ["done", "current", "pending"]
    assert [s["description"] for s in body["steps"]] == [
        "setWeight 10%",
        "judgement",
        "setWeight 100%",
    ]
    colors = {c["color"]: c for c in body["colors"]}
    assert colors["green"] == {
        "color": "green",
        "version": "v2",
        "role": "canary",
        "weight": 10,
        "desired": 2,
        "ready": 1,
    }
    judgement = body["judgement"]
    assert judgement["inputs"] == [
        {"name": "ticket", "options": [], "required": True},
        {"name": "risk", "options": ["low", "high"], "required": False},
    ]
    assert judgement["requiredRoles"] == []
    assert judgement["canJudge"] is True
    assert 'href="https://grafana.example/d/web?var-version=v2"' in judgement["instructionsHtml"]
    assert "<strong>latency</strong>" in judgement["instructionsHtml"]
    assert body["status"]["phase"] == "AwaitingJudgement"
    assert body["allowedOperations"] == ["judge"]  # ann is an approver, not a deployer
    everything = (await api.get("/api/v1/rollouts/judged", user="sre")).json()
    assert everything["allowedOperations"] == ["promote-full", "abort", "pause", "judge"]


async def test_a_viewer_sees_the_judgement_but_is_told_why_they_cannot_decide(api: Api) -> None:
    judgement = (await api.get("/api/v1/rollouts/judged", user="vera")).json()["judgement"]
    assert judgement["canJudge"] is False
    assert "approver" in judgement["cannotJudgeReason"]
    gated = (await api.get("/api/v1/rollouts/gated", user="ann")).json()["judgement"]
    assert gated["requiredRoles"] == ["sre-lead"]
    assert gated["canJudge"] is False and "sre-lead" in gated["cannotJudgeReason"]
    assert (await api.get("/api/v1/rollouts/gated", user="sre")).json()["judgement"]["canJudge"]


async def test_history_audit_and_analysis_of_a_rollout(api: Api) -> None:
    history = (await api.get("/api/v1/rollouts/judged/history")).json()
    assert [e["type"] for e in history] == ["RolloutStarted", "WeightsChanged"]
    assert history[1]["data"] == {"weights": {"v2": 10, "v1": 90}}
    assert history[1]["severity"] == "info"
    assert (await api.get("/api/v1/rollouts/judged/audit")).json() == []
    analysis = (await api.get("/api/v1/rollouts/judged/analysis")).json()
    assert analysis == {"runs": [], "events": [], "metrics": []}


@pytest.mark.parametrize("path", ["", "/history", "/audit", "/analysis"])
async def test_unknown_rollouts_are_404_naming_them(api: Api, path: str) -> None:
    response = await api.get(f"/api/v1/rollouts/nope{path}")
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


OPERATIONS: list[tuple[str, str, dict[str, Any], IntentKind, str]] = [
    ("paused", "promote", {"comment": "looks good"}, IntentKind.PROMOTE, "dan"),
    # A full promotion skips the pending judgement: it needs the approver's right too.
    ("judged", "promote", {"full": True, "comment": "hotfix"}, IntentKind.PROMOTE_FULL, "sre"),
    ("judged", "abort", {"comment": "errors up"}, IntentKind.ABORT, "dan"),
    ("aborted", "retry", {"comment": "fixed config"}, IntentKind.RETRY, "dan"),
    ("judged", "pause", {"comment": "lunch"}, IntentKind.PAUSE, "dan"),
    ("paused", "resume", {"comment": "back"}, IntentKind.RESUME, "dan"),
    ("done", "undo", {"comment": "v2 is slow"}, IntentKind.UNDO, "dan"),
    (
        "judged",
        "judge",
        {"approve": True, "inputs": {"ticket": "OPS-7", "risk": "low"}, "comment": "ok", **SEEN},
        IntentKind.JUDGE,
        "ann",
    ),
    ("judged", "judge", {"approve": False, "comment": "no", **SEEN}, IntentKind.JUDGE, "ann"),
]


@pytest.mark.parametrize(("name", "op", "body", "kind", "user"), OPERATIONS)
async def test_every_operation_is_recorded_with_who_where_what_and_why(
    api: Api, name: str, op: str, body: dict[str, Any], kind: IntentKind, user: str
) -> None:
    response = await api.post(f"/api/v1/rollouts/{name}/{op}", body, user=user)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["kind"] == kind.value and answer["actor"] == user and answer["source"] == "api"
    assert answer["outcome"] is None  # the engine has not acted yet
    [intent] = await api.store.intents(name)
    assert intent.id == answer["id"]
    assert (intent.kind, intent.actor, intent.source) == (kind, user, "api")
    assert intent.comment == body["comment"]
    assert intent.inputs == body.get("inputs", {})
    assert intent.approve == body.get("approve")
    audit = (await api.get(f"/api/v1/rollouts/{name}/audit")).json()
    assert audit == [answer]


async def test_an_operation_without_a_body_uses_the_defaults(api: Api) -> None:
    response = await api.client.post("/api/v1/rollouts/judged/abort", headers=auth_header("dan"))
    assert response.status_code == 202
    [intent] = await api.store.intents("judged")
    assert intent.kind is IntentKind.ABORT and intent.comment == ""


async def test_undo_records_the_previous_version_as_the_desired_spec(api: Api) -> None:
    assert (await api.post("/api/v1/rollouts/done/undo", {})).status_code == 202
    spec = await api.store.get_spec("done")
    assert spec is not None and spec.spec.version == "v1"


@pytest.mark.parametrize(
    ("name", "op", "body", "reason"),
    [
        ("judged", "promote", {}, "a judgement is pending"),
        ("paused", "judge", {"approve": True, **SEEN}, "no judgement is pending"),
        ("fresh", "retry", {}, "has not started"),
        ("done", "abort", {}, "nothing to abort"),
        ("paused", "pause", {}, "already paused"),
        ("judged", "resume", {}, "not paused by a user"),
    ],
)
async def test_operations_that_do_not_apply_are_409_with_the_reason(
    api: Api, name: str, op: str, body: dict[str, Any], reason: str
) -> None:
    response = await api.post(f"/api/v1/rollouts/{name}/{op}", body, user="sre")
    assert response.status_code == 409
    assert reason in response.json()["detail"]
    assert await api.store.intents(name) == []  # nothing recorded


async def test_operations_on_unknown_rollouts_are_404(api: Api) -> None:
    response = await api.post("/api/v1/rollouts/ghost/abort", {})
    assert response.status_code == 404 and "ghost" in response.json()["detail"]


@pytest.mark.parametrize(
    ("inputs", "problem"),
    [
        ({}, "inputs.ticket: required to approve"),
        ({"ticket": "T-1", "risk": "extreme"}, "inputs.risk: 'extreme' is not one of"),
        ({"ticket": "T-1", "colour": "red"}, "inputs.colour: not an input of this judgement"),
    ],
)
async def test_judgement_inputs_are_checked_and_named(
    api: Api, inputs: dict[str, str], problem: str
) -> None:
    response = await api.post(
        "/api/v1/rollouts/judged/judge", {"approve": True, "inputs": inputs, **SEEN}, user="ann"
    )
    assert response.status_code == 422
    assert any(problem in p for p in response.json()["problems"]), response.json()
    assert await api.store.intents("judged") == []


async def test_a_rejection_needs_no_required_input(api: Api) -> None:
    response = await api.post(
        "/api/v1/rollouts/judged/judge", {"approve": False, **SEEN}, user="ann"
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("op", "body", "field"),
    [
        ("judge", {"inputs": {}}, "body.approve"),
        ("judge", {"approve": "perhaps"}, "body.approve"),
        ("judge", {"approve": True, "inputs": {"ticket": 7}}, "body.inputs.ticket"),
        ("judge", {"approve": True, "inputs": ["ticket"]}, "body.inputs"),
        ("promote", {"full": "very"}, "body.full"),
        ("abort", {"comentary": "typo"}, "body.comentary"),
        ("abort", {"comment": "x" * 2001}, "body.comment"),
        ("abort", ["not", "an", "object"], "body"),
    ],
)
async def test_malformed_bodies_are_422_naming_the_field(
    api: Api, op: str, body: Any, field: str
) -> None:
    response = await api.post(f"/api/v1/rollouts/judged/{op}", body, user="sre")
    assert response.status_code == 422, response.text
    payload = response.json()
    assert any(p.startswith(field + ":") for p in payload["problems"]), payload
    assert field in payload["detail"]
    assert await api.store.intents("judged") == []


async def test_a_body_that_is_not_json_is_422(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/rollouts/judged/abort",
        content=b"{not json",
        headers={"Content-Type": "application/json", **auth_header("dan")},
    )
    assert response.status_code == 422
    assert "body" in response.json()["detail"]


async def test_invalid_rollout_names_in_paths_are_422(api: Api) -> None:
    response = await api.get("/api/v1/rollouts/Not_A_Name")
    assert response.status_code == 422
    assert "path.name" in response.json()["detail"]


async def test_health_and_openapi_are_public(api: Api) -> None:
    assert (await api.get("/healthz", user=None)).text == "ok"
    document = (await api.get("/openapi.json", user=None)).json()
    paths = document["paths"]
    for op in ("promote", "abort", "retry", "pause", "resume", "undo", "judge"):
        assert "post" in paths[f"/api/v1/rollouts/{{name}}/{op}"]
    assert "HTTPBearer" in document["components"]["securitySchemes"]


async def test_whoami_names_the_caller_and_roles_never_the_token(api: Api) -> None:
    response = await api.get("/api/v1/whoami", user="sre")
    assert response.json() == {
        "name": "sre",
        "roles": ["approver", "deployer", "sre-lead", "viewer"],
        "groups": [],
    }


async def test_metrics_come_from_the_store_at_scrape_time(api: Api) -> None:
    text = (await api.get("/metrics", user=None)).text
    assert 'serinus_rollout_phase{phase="AwaitingJudgement",rollout="judged"} 1.0' in text
    assert 'serinus_rollout_weight_percent{color="green",rollout="judged"} 10.0' in text
    assert 'serinus_rollout_phase{phase="Pending",rollout="fresh"} 1.0' in text
    await api.store.delete("aborted")
    text = (await api.get("/metrics", user=None)).text
    assert 'rollout="aborted"' not in text


async def test_a_body_that_is_not_utf8_is_422_naming_the_body(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/rollouts/judged/abort",
        content=b"\xff\xfe{",
        headers={"Content-Type": "application/json", **auth_header("dan")},
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("body:")


async def test_an_unknown_query_parameter_is_422_naming_it(api: Api) -> None:
    response = await api.get("/api/v1/rollouts?namspace=shop")
    assert response.status_code == 422
    assert response.json()["problems"] == [
        "query.namspace: not a parameter of this endpoint (expected: namespace)"
    ]
    assert (await api.get("/api/v1/rollouts/judged/history?limit=5")).status_code == 200
    assert (await api.get("/api/v1/rollouts?namespace=default")).status_code == 200
