"""Every end-to-end test must stop what it started: a test that leaves a process fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from leftovers import none_left_behind
from local_mode import LocalMode, local_mode


@pytest.fixture(autouse=True)
def no_process_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Set up first, so checked after every other fixture of the test has cleaned up."""
    with none_left_behind(request.node.nodeid):
        yield


@pytest.fixture
def local() -> Iterator[LocalMode]:
    """A fresh local state folder for rollout `web`; deleted after, failing if a process is left."""
    with local_mode() as mode:
        yield mode
