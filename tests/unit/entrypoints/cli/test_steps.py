"""Every kind of step in both wordings of the one description (`entrypoints.describing`): the
CLI's spoken words and the dashboard timeline's spec names, as `get` and the API show them."""

from __future__ import annotations

from typing import Any

import pytest
from api_world import rollout

from serinus.core.spec import Step
from serinus.entrypoints.cli.steps import describe_step
from serinus.entrypoints.describing import preview_url, spec_named, spoken

MATCH = [{"headerName": "x", "headerValue": {"exact": "1"}}]
CASES: list[tuple[dict[str, Any], str, str | None]] = [
    ({"setWeight": 10}, "set weight 10%", "setWeight 10%"),
    ({"pause": {}}, "pause until promoted", "pause until promoted"),
    ({"pause": {"duration": "10m"}}, "pause for 10m00s", "pause 600s"),
    ({"pause": {"duration": 1.5}}, "pause for 2s", "pause 1.5s"),
    ({"judgement": {}}, "judgement (no timeout)", "judgement"),
    (
        {"judgement": {"timeout": "30m", "onTimeout": "continue", "requiredRoles": ["sre-lead"]}},
        "judgement (times out after 30m00s: continue)",
        "judgement (needs sre-lead)",
    ),
    ({"analysis": {"templates": ["errors", "latency"]}}, "analysis errors, latency", None),
    (
        {"setHeaderRoute": {"name": "testers", "match": MATCH}},
        "header route testers on",
        "setHeaderRoute testers",
    ),
    (
        {"setHeaderRoute": {"name": "testers"}},
        "header route testers off",
        "setHeaderRoute testers (remove)",
    ),
    ({"setMirror": {"percentage": 20}}, "mirror 20% of requests", "setMirror"),
]  # fmt: skip


@pytest.mark.parametrize(("step", "words", "named"), CASES)
def test_each_step_kind_in_both_wordings(
    step: dict[str, Any], words: str, named: str | None
) -> None:
    parsed = Step.model_validate(step)
    assert spoken(parsed) == words
    assert spec_named(parsed) == (named or words)


def test_a_position_names_the_step_of_the_plan_or_that_all_are_done() -> None:
    spec = rollout("web", [{"setWeight": 10}, {"pause": {"duration": "5m"}}])
    assert describe_step(spec, 1) == "step 2/2: pause for 5m00s"
    assert describe_step(spec, 2) == "all 2 steps done"


@pytest.mark.parametrize(
    ("haproxy", "url"),
    [
        ({"port": 8080, "previewPort": 8081}, "http://127.0.0.1:8081/"),
        ({"port": 8080, "previewPort": 8081, "bindAddress": "::1"}, "http://[::1]:8081/"),
        ({"port": 8080}, None),
    ],
)
def test_the_preview_url_is_haproxys_preview_port(haproxy: dict[str, Any], url: str | None) -> None:
    spec = rollout("web", [])
    routing = spec.spec.traffic_routing.model_validate({"haproxy": haproxy})
    changed = spec.model_copy(
        update={"spec": spec.spec.model_copy(update={"traffic_routing": routing})}
    )
    assert preview_url(changed) == url
