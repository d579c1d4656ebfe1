"""The dashboard's browser tests: `serinus serve` over a local state directory, and Chromium.

alice holds every role and vera only views; their tokens are in a tokens file beside the state.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from local_mode import SERINUS, LocalMode, free_port

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.core.documents import validate_model
from serinus.core.spec import Rollout
from serinus.core.status import RolloutStatus
from serinus.entrypoints.api.auth import hash_token

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
TOKEN = "alice-browser-test-token-1f9b2c"
VIEWER_TOKEN = "vera-browser-test-token-77ad0e"
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy"),
]


class Serve:
    """`serinus serve` on the local mode's state directory, as a user would run it."""

    def __init__(self, local: LocalMode) -> None:
        tokens = local.state_dir.parent / "tokens.yaml"
        self.tokens = tokens
        users = [
            {
                "name": "alice",
                "roles": ["viewer", "deployer", "approver"],
                "tokens": [hash_token(TOKEN)],
            },
            {"name": "vera", "roles": ["viewer"], "tokens": [hash_token(VIEWER_TOKEN)]},
        ]
        tokens.write_text(yaml.safe_dump({"users": users}))
        port = free_port()
        self.log = local.state_dir.parent / "serve.log"
        with self.log.open("w") as sink:
            self.process = subprocess.Popen(
                [*SERINUS, "serve", "--port", str(port), "--tokens-file", str(tokens)],
                env=local.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 20
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("serinus serve did not start: " + self.output())
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "healthz", timeout=1).text == "ok"
        except httpx.TransportError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def sign_in(page: Page, url: str, token: str) -> None:
    page.goto(url)
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def png_width(path: Path) -> int:
    """The width of a PNG screenshot, read back from its header."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big")


PREVIEW_PORT = 18081


def blue_green(name: str) -> dict[str, Any]:
    """A blue-green rollout of 3 replicas behind HAProxy with a preview port, promoted by hand."""
    return {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "version": "v2",
            "workload": {"process": {"command": ["app", "{port}"], "replicas": 3}},
            "trafficRouting": {"haproxy": {"port": 18080, "previewPort": PREVIEW_PORT}},
            "strategy": {"blueGreen": {"autoPromotion": False}},
        },
    }


def seed(local: LocalMode, document: dict[str, Any], status: RolloutStatus | None) -> Rollout:
    """Store a rollout and its status in the local state, as a `serinus run` would have left it."""
    rollout = validate_model(Rollout, document, "test")

    async def save() -> None:
        local.state_dir.mkdir(parents=True, exist_ok=True)
        store = SqliteStateStore(local.state_dir / "serinus.db")
        try:
            if await store.get_spec(rollout.name) is None:
                await store.submit(rollout)
            if status is not None:
                await store.save(rollout.name, status, [], [])
        finally:
            await store.close()

    # Playwright's sync API runs an event loop in the test's thread: save from another thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, save()).result()
    return rollout
