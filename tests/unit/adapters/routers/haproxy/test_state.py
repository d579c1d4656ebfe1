"""The router state survives a round trip through its file, and bad files are clear errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from serinus.adapters.routers.haproxy.state import (
    RouterState,
    RouteSelection,
    Slot,
    load_state,
    save_state,
)
from serinus.core.errors import RouterError


def test_round_trip(tmp_path: Path) -> None:
    state = replace(
        RouterState.empty(3).with_slots("green", (None, Slot("127.0.0.1", 9001, False), None)),
        shares={"blue": 40, "green": 60},
        routes={"testers": RouteSelection(0, "green")},
        preview="green",
    )
    save_state(tmp_path / "state.json", state)
    assert load_state(tmp_path / "state.json", 3) == state


def test_a_missing_file_is_the_initial_state(tmp_path: Path) -> None:
    assert load_state(tmp_path / "none.json", 2) == RouterState.empty(2)


def test_more_slots_can_be_added_later(tmp_path: Path) -> None:
    save_state(tmp_path / "s.json", RouterState.empty(2))
    assert load_state(tmp_path / "s.json", 4) == RouterState.empty(4)


def test_shrinking_below_used_slots_is_refused(tmp_path: Path) -> None:
    state = RouterState.empty(3).with_slots("blue", (None, None, Slot("127.0.0.1", 1, True)))
    save_state(tmp_path / "s.json", state)
    with pytest.raises(RouterError, match="more than 2 blue slots"):
        load_state(tmp_path / "s.json", 2)


def test_a_corrupt_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{")
    with pytest.raises(RouterError, match=r"s\.json"):
        load_state(tmp_path / "s.json", 2)
