"""Fixtures of the dashboard's browser tests: a local mode, `serinus serve` on it, Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from dashboard_world import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TOKEN, Serve
from local_mode import LocalMode, local_mode

from serinus.entrypoints.api.auth import hash_token

if TYPE_CHECKING:
    from playwright.sync_api import Browser


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
