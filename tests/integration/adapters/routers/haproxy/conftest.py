"""Every HAProxy test must stop what it started: a test that leaves a process fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from leftovers import check_none_left


@pytest.fixture(autouse=True)
def no_process_left(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    """Set up first, so checked after every other fixture of the test has cleaned up."""
    yield
    check_none_left(tmp_path, request.node.nodeid)
