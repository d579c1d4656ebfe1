"""Every end-to-end test must stop what it started: a test that leaves a process fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from leftovers import none_left_behind


@pytest.fixture(autouse=True)
def no_process_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Set up first, so checked after every other fixture of the test has cleaned up."""
    with none_left_behind(request.node.nodeid):
        yield
