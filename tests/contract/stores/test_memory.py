"""The in-memory store passes the StateStore contract; handles share one MemoryState."""

from __future__ import annotations

import pytest
from tests.contract.stores.contract import (
    ClosableStore,
    StateStoreContract,
    StoreHandles,
    make_rollout,
)

from serinus.adapters.stores.memory import MemoryState, MemoryStateStore


class MemoryHandles:
    def __init__(self) -> None:
        self.state = MemoryState()

    async def open(self) -> ClosableStore:
        return MemoryStateStore(self.state)


class TestMemoryStore(StateStoreContract):
    @pytest.fixture
    def store_handles(self) -> StoreHandles:
        return MemoryHandles()


async def test_separate_states_are_separate() -> None:
    first, second = MemoryStateStore(), MemoryStateStore()
    await first.submit(make_rollout())
    assert await second.names() == []
