"""`serinus get` shows an open rollback window with its cost, and a router it cannot reach."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from serinus.core.status import (
    Phase,
    Revision,
    RollbackWindowState,
    RolloutStatus,
    RouterOutage,
)
from serinus.entrypoints.cli import status as status_command

if TYPE_CHECKING:
    from conftest import State

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_command, "now", lambda: NOW)


def completed_with_window() -> RolloutStatus:
    return RolloutStatus(
        phase=Phase.COMPLETED,
        message="v2 is live; v1 kept for an instant undo",
        stable=Revision(version="v2", color="green"),
        weights={"green": 100, "blue": 0},
        replicas={"green": 3, "blue": 1},
        ready={"green": 3, "blue": 1},
        previous_version="v1",
        rollback_window=RollbackWindowState(
            color="blue", version="v1", replicas=1, until=NOW + 552
        ),
        converged=True,
        revision=2,
    )


def test_an_open_window_shows_what_it_keeps_until_when_and_that_undo_is_instant(
    state: State,
) -> None:
    state.put(completed_with_window())
    shown = state.cli("get", "web")
    assert shown.exit_code == 0, shown.stderr
    assert (
        "rollback window: v1 kept at 1/3 replicas until 08:09:12 UTC (in 9m12s; undo is instant)"
        in shown.stdout
    )
    kept = next(line for line in shown.stdout.splitlines() if "v1" in line and "blue" in line)
    assert "kept" in kept and "0% desired" in kept
    assert "✔ replicas 1/1 ready" in shown.stdout


def test_without_a_window_nothing_is_said_about_one(state: State) -> None:
    state.put(completed_with_window().model_copy(update={"rollback_window": None}))
    assert "rollback window" not in state.cli("get", "web").stdout


def test_an_unreachable_router_says_since_when(state: State) -> None:
    status = RolloutStatus(
        phase=Phase.PAUSED,
        message="the router is unreachable: cannot talk to HAProxy; nothing advances",
        stable=Revision(version="v1", color="blue"),
        canary=Revision(version="v2", color="green"),
        weights={"blue": 90, "green": 10},
        replicas={"blue": 3, "green": 3},
        router_outage=RouterOutage(since=NOW - 42, error="cannot talk to HAProxy"),
        revision=2,
    )
    state.put(status)
    shown = state.cli("get", "web")
    assert "router unreachable since 07:59:18 UTC (for 42s): cannot talk to HAProxy" in (
        shown.stdout
    )
    assert "the router is unreachable" in shown.stdout
