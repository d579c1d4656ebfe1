"""`serinus history`: every operation with its inputs, the judgement's decision, the actor, the
version and revision it applied to, ISO 8601 dates with a time zone, and each event once."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import yaml

from serinus.core.events import Event, EventType
from serinus.core.intents import Intent, IntentKind
from serinus.core.status import Phase, Revision, RolloutStatus

if TYPE_CHECKING:
    from conftest import State

T0 = 1_800_000_000.0
EVENTS = [
    Event(type=EventType.ROLLOUT_STARTED, message="first deployment of v1", at=T0,
          data={"version": "v1"}),
    Event(type=EventType.ROLLOUT_STARTED, message="rolling out v2 beside v1", at=T0 + 100,
          data={"version": "v2"}),
    Event(type=EventType.AWAITING_JUDGEMENT, message="waiting for a judgement", at=T0 + 110),
    Event(type=EventType.AWAITING_JUDGEMENT, message="waiting for a judgement", at=T0 + 111),
    Event(type=EventType.JUDGED, message="judgement rejected by bob", at=T0 + 130,
          data={"approved": False, "actor": "bob"}),
]  # fmt: skip
INTENTS = [
    Intent(kind=IntentKind.PAUSE, actor="ann", at=T0 + 50, outcome="done"),
    Intent(kind=IntentKind.JUDGE, actor="bob", at=T0 + 120, approve=False,
           inputs={"ticket": "OPS-7"}, comment="p95 doubled", outcome="done"),
    Intent(kind=IntentKind.PROMOTE, actor="cy", at=T0 + 125, revision=7, outcome="rejected"),
]  # fmt: skip
STATUS = RolloutStatus(
    phase=Phase.ABORTED,
    stable=Revision(version="v1", color="blue"),
    canary=Revision(version="v2", color="green"),
    weights={"blue": 100},
    revision=2,
)


def test_operations_carry_inputs_decision_actor_version_and_revision(state: State) -> None:
    state.put(STATUS, events=EVENTS, intents=INTENTS)

    data = json.loads(state.cli("history", "web", "-o", "json").stdout)

    pause, judge, bound = data["operations"]
    assert (pause["kind"], pause["actor"], pause["version"], pause["revision"]) == (
        "pause", "ann", "v1", 1,
    )  # fmt: skip
    assert judge["approve"] is False and judge["actor"] == "bob"
    assert judge["inputs"] == {"ticket": "OPS-7"} and judge["comment"] == "p95 doubled"
    assert (judge["version"], judge["revision"], judge["outcome"]) == ("v2", 2, "done")
    assert bound["revision"] == 7  # the revision the caller bound it to, as recorded
    assert datetime.fromisoformat(judge["time"]).timestamp() == T0 + 120
    assert datetime.fromisoformat(judge["time"]).tzinfo is not None


def test_an_event_recorded_twice_in_a_row_is_shown_once_with_its_count(state: State) -> None:
    state.put(STATUS, events=EVENTS, intents=INTENTS)

    data = yaml.safe_load(state.cli("history", "web", "-o", "yaml").stdout)

    types = [e["type"] for e in data["events"]]
    assert types == ["RolloutStarted", "RolloutStarted", "AwaitingJudgement", "Judged"]
    assert data["events"][2]["repeats"] == 2


def test_the_table_shows_dates_with_zone_and_the_judgement_decision(state: State) -> None:
    state.put(STATUS, events=EVENTS, intents=INTENTS)

    shown = state.cli("history", "web")

    assert shown.exit_code == 0, shown.stderr
    judged_at = datetime.fromtimestamp(T0 + 120).astimezone().isoformat(timespec="seconds")
    row = next(line for line in shown.stdout.splitlines() if "judge: reject" in line)
    for cell in (judged_at, "bob", "v2", "ticket=OPS-7", "p95 doubled", "done"):
        assert cell in row, (cell, row)
    assert "waiting for a judgement (x2)" in shown.stdout
