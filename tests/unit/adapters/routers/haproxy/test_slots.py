"""Replicas keep their server slot; new ones take slots that were already free."""

from __future__ import annotations

import pytest

from serinus.adapters.routers.haproxy.slots import assign_slots
from serinus.adapters.routers.haproxy.state import Slot
from serinus.core.errors import InvalidInput, RouterError
from serinus.core.status import Endpoint


def ep(port: int, ready: bool = True) -> Endpoint:
    return Endpoint(host="127.0.0.1", port=port, ready=ready, replica=port % 100)


def test_existing_replicas_keep_their_slot_and_readiness_updates() -> None:
    current = (Slot("127.0.0.1", 1, True), None, Slot("127.0.0.1", 3, True))
    assert assign_slots("blue", current, [ep(3, ready=False), ep(1)]) == (
        Slot("127.0.0.1", 1, True),
        None,
        Slot("127.0.0.1", 3, False),
    )


def test_new_replicas_prefer_slots_that_were_free_before() -> None:
    current = (Slot("127.0.0.1", 1, True), None, None)
    # Port 1 leaves, port 2 arrives: it must not reuse slot 0, which may still be draining.
    assert assign_slots("blue", current, [ep(2)]) == (None, Slot("127.0.0.1", 2, True), None)


def test_a_just_freed_slot_is_reused_only_when_nothing_else_is_free() -> None:
    current = (Slot("127.0.0.1", 1, True), Slot("127.0.0.1", 2, True))
    assert assign_slots("blue", current, [ep(2), ep(3)]) == (
        Slot("127.0.0.1", 3, True),
        Slot("127.0.0.1", 2, True),
    )


def test_more_replicas_than_slots_is_a_router_error_naming_the_slots() -> None:
    with pytest.raises(RouterError, match="2 server slots per color"):
        assign_slots("green", (None, None), [ep(1), ep(2), ep(3)])


def test_duplicate_endpoints_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match=r"127\.0\.0\.1:1"):
        assign_slots("green", (None, None), [ep(1), ep(1)])
