"""The whole test session must stop what it started: a serinus process left running fails it.

Everything the session's tests start is tagged (`leftovers.none_left_behind`); after the last
test, one still running with a serinus marker is an error naming the test that started it. The
end-to-end and browser tests are also checked one by one (their own conftests), so their leak
fails the test that made it; this catches the others (in-process platforms, operators, CLI
commands) wherever they are.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from leftovers import none_left_behind


@pytest.fixture(scope="session", autouse=True)
def no_process_left_by_the_session() -> Iterator[None]:
    """Set up before any other fixture, so checked after all have cleaned up."""
    with none_left_behind("the test session"):
        yield
