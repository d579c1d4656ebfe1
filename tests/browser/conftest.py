"""Fixtures of the dashboard's browser tests: a local mode, `serinus serve` on it, Chromium;
and a check after every test that it left no serinus process running."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from dashboard_world import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TOKEN, Serve
from leftovers import none_left_behind
from local_mode import LocalMode, local_mode

from serinus.entrypoints.api.auth import hash_token

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(autouse=True)
def no_process_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Set up first, so checked after every other fixture of the test has cleaned up (a demo
    started in a folder of its own included)."""
    with none_left_behind(request.node.nodeid):
        yield


@pytest.fixture
def local() -> Iterator[LocalMode]:
    with local_mode() as mode:
        yield mode


@pytest.fixture
def serve(local: LocalMode) -> Iterator[Serve]:
    server = Serve(local)
    try:
        yield server
    finally:
        server.stop()
        served = server.output()
        assert TOKEN not in served and hash_token(TOKEN) not in served  # nor in the logs


@pytest.fixture
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
