"""The `api` fixture: the app over a seeded in-memory store (see tests/support/api_world.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_world import Api, serving


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with serving() as world:
        yield world
