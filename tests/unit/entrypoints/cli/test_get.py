"""`serinus get`: the tree (revisions, replicas, weights), the step in words with its timers,
what happens next, and `-o json|yaml` as clean data (parsed back)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import yaml

from serinus.core.status import Phase, Revision, RolloutStatus, ScheduledTeardown
from serinus.entrypoints.cli import status as status_command

if TYPE_CHECKING:
    from conftest import State

NOW = 1_800_000_000.0


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_command, "now", lambda: NOW)


def judging() -> RolloutStatus:
    return RolloutStatus(
        phase=Phase.AWAITING_JUDGEMENT,
        stable=Revision(version="v1", color="blue"),
        canary=Revision(version="v2", color="green"),
        step_index=1,
        step_started_at=NOW - 192,
        phase_since=NOW - 192,
        rollout_started_at=NOW - 300,
        weights={"blue": 90, "green": 10},
        replicas={"blue": 3, "green": 3},
        ready={"blue": 3, "green": 1},
        revision=2,
        previous_version="v0",
    )


def test_the_tree_shows_revisions_replicas_weights_the_step_and_what_comes_next(
    state: State,
) -> None:
    state.put(judging())

    shown = state.cli("get", "web")

    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "web" in lines[0] and "AwaitingJudgement" in lines[0] and "for 3m12s" in lines[0]
    assert "revision 2" in lines[0]  # what `judge --revision` binds a decision to
    assert any(
        "step 2/4: judgement (times out after 30m00s: abort), waiting 3m12s, "
        "times out in 26m48s" in line
        for line in lines
    ), shown.stdout
    stable = next(line for line in lines if "v1" in line and "stable" in line)
    canary = next(line for line in lines if "v2" in line and "canary" in line)
    assert "blue" in stable and "90% desired (actual not confirmed yet)" in stable
    assert "green" in canary and "10% desired" in canary and "age 5m00s" in canary
    assert lines.index(stable) < lines.index(canary)
    assert "✔✔✔ replicas 3/3 ready" in shown.stdout
    assert "✔◌◌ replicas 1/3 ready" in shown.stdout
    assert "next: a person decides: `serinus judge web --approve` or `--reject`" in shown.stdout
    assert "{" not in shown.stdout  # no Python dict anywhere


def test_a_timed_pause_counts_down_and_names_the_step_that_follows(state: State) -> None:
    status = judging().model_copy(
        update={"phase": Phase.PAUSED, "step_index": 2, "step_started_at": NOW - 60}
    )
    state.put(status)

    shown = state.cli("get", "web").stdout

    assert "step 3/4: pause for 5m00s, waiting 1m00s, resumes in 4m00s" in shown
    assert "next: step 4/4 (set weight 100%) when the pause ends" in shown
    assert "`serinus promote web`" in shown


def test_an_aborted_rollout_says_how_to_go_on_with_commands_that_exist(state: State) -> None:
    status = judging().model_copy(
        update={
            "phase": Phase.ABORTED,
            "weights": {"blue": 100, "green": 0},
            "teardowns": [ScheduledTeardown(color="green", version="v2", due=NOW + 20)],
        }
    )
    state.put(status)

    shown = state.cli("get", "web").stdout

    assert "`serinus retry web` runs the steps again" in shown
    assert "`serinus undo web` rolls v0 out" in shown
    assert "v2 (green) scales down in 20s" in shown


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_machine_output_is_the_status_as_plain_data(state: State, output: str) -> None:
    state.put(judging())

    shown = state.cli("get", "web", "-o", output)

    assert shown.exit_code == 0, shown.stderr
    data = json.loads(shown.stdout) if output == "json" else yaml.safe_load(shown.stdout)
    assert data["phase"] == "AwaitingJudgement"
    assert data["step"].startswith("step 2/4: judgement")
    assert data["revisions"] == [
        {"version": "v1", "color": "blue", "role": "stable", "weight": 90, "actualWeight": None,
         "replicas": 3, "ready": 3},
        {"version": "v2", "color": "green", "role": "canary", "weight": 10, "actualWeight": None,
         "replicas": 3, "ready": 1},
    ]  # fmt: skip
    assert RolloutStatus.from_storage(data["status"]) == judging()


def test_wide_and_list_agree_on_the_step(state: State) -> None:
    state.put(judging())

    listed = state.cli("list", "-o", "wide").stdout

    assert "step 2/4: judgement (times out after 30m00s: abort)" in listed
    assert "serinus judge web" in listed
    assert "{" not in listed


def test_an_unknown_output_format_is_refused_naming_the_option(state: State) -> None:
    state.put(judging())

    refused = state.cli("get", "web", "-o", "xml")

    assert refused.exit_code == 2
    assert "--output: expected one of 'table', 'wide', 'json', 'yaml', got 'xml'" in refused.stderr


def test_an_unknown_rollout_is_an_error_naming_the_known_ones(state: State) -> None:
    state.put(judging())

    missing = state.cli("get", "api")

    assert missing.exit_code == 1
    assert "rollout 'api' not found (known: web)" in missing.stderr


def test_recent_events_show_an_event_recorded_twice_once(state: State) -> None:
    from serinus.core.events import Event, EventType

    waiting = Event(type=EventType.AWAITING_JUDGEMENT, message="waiting for a judgement", at=NOW)
    state.put(judging(), events=[waiting, waiting.model_copy(update={"at": NOW + 1})])

    shown = state.cli("get", "web").stdout

    assert shown.count("waiting for a judgement") == 1
    assert "waiting for a judgement (x2)" in shown


def test_a_converged_status_shows_the_actual_weight_equal_to_the_desired_one(state: State) -> None:
    state.put(judging().model_copy(update={"converged": True}))

    shown = state.cli("get", "web").stdout
    data = json.loads(state.cli("get", "web", "-o", "json").stdout)

    assert "90% desired = actual" in shown and "10% desired = actual" in shown
    assert [r["actualWeight"] for r in data["revisions"]] == [90, 10]


def test_a_previewed_version_says_where_people_reach_it(state: State) -> None:
    previewing = judging().model_copy(
        update={"preview": "green", "weights": {"blue": 100, "green": 0}}
    )
    state.put(previewing)
    shown = state.cli("get", "web").stdout
    assert "preview: the router's preview entry -> v2 (green), no user traffic" in shown


def test_the_preview_url_is_haproxys_preview_port() -> None:
    from serinus.core.documents import load_rollout
    from serinus.entrypoints.cli.tree import preview_url

    def rollout(haproxy: str) -> str:
        return (
            "apiVersion: serinus.io/v1alpha1\nkind: Rollout\nmetadata: {name: web}\nspec:\n"
            "  version: v1\n  workload: {process: {command: [sleep, '1'], replicas: 1}}\n"
            f"  trafficRouting: {{haproxy: {haproxy}}}\n  strategy: {{blueGreen: {{}}}}\n"
        )

    with_port = load_rollout(rollout("{port: 18080, previewPort: 18081}"), "test")
    assert preview_url(with_port) == "http://127.0.0.1:18081/"
    assert preview_url(load_rollout(rollout("{port: 18080}"), "test")) is None
