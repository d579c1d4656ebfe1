"""The dashboard in Debian's Chromium against a real local rollout (HAProxy, demo replicas).

`serinus run` drives the rollout and `serinus serve` shows it, two processes sharing the state
directory, as a user would run them. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import yaml
from local_mode import SERINUS, LocalMode, free_port, local_mode, rollout_document

from serinus.core.status import Phase

if TYPE_CHECKING:
    from playwright.sync_api import Page
from serinus.entrypoints.api.auth import hash_token

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
TOKEN = "alice-browser-test-token-1f9b2c"
VIEWER_TOKEN = "vera-browser-test-token-77ad0e"
HOSTILE = "<script>window.pwned = 1</script><img src=x onerror=window.pwned=2>"
INSTRUCTIONS = (
    "Compare **{{ canary.version }}** with {{ stable.version }} on "
    "[Grafana](https://grafana.example/d/web?var-version={{ canary.version }}).\n\n"
    f"- check the error ratio {HOSTILE}\n- [do not click](javascript:window.pwned=3)"
)
STEPS = [
    {"setWeight": 10},
    {"judgement": {"instructions": INSTRUCTIONS, "inputs": [{"name": "risk", "options": ["low"]}]}},
    {"setWeight": 100},
]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy"),
]


@pytest.fixture
def local() -> Iterator[LocalMode]:
    with local_mode() as mode:
        yield mode


@pytest.fixture
def dashboard(local: LocalMode) -> Iterator[str]:
    """`serinus serve` on the rollout's state directory, with alice holding every role."""
    tokens = local.state_dir.parent / "tokens.yaml"
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
    log = (local.state_dir.parent / "serve.log").open("w")
    server = subprocess.Popen(
        [*SERINUS, "serve", "--port", str(port), "--tokens-file", str(tokens)],
        env=local.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "healthz", timeout=1).text == "ok":
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("serinus serve did not start: " + _read(log.name))
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        served = _read(log.name)
        assert TOKEN not in served and hash_token(TOKEN) not in served  # nor in the logs


def _read(path: str) -> str:
    return Path(path).read_text(errors="replace")


def sign_in(page: Page, url: str, token: str) -> None:
    page.goto(url)
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def test_watch_judge_and_audit_a_real_rollout_in_chromium(local: LocalMode, dashboard: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    first = local.start_run(local.write(rollout_document("v1", port, steps=STEPS)))
    assert local.finish(first).count("Completed") >= 1
    run = local.start_run(local.write(rollout_document("v2", port, steps=STEPS)))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "response",
                lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            sign_in(page, dashboard, TOKEN)
            expect(page.locator("#who-name")).to_have_text("alice")
            page.get_by_role("link", name="web").click()
            expect(page).to_have_url(dashboard + "rollouts/web")

            # The weights move on the page: the canary's 10% arrives over the live stream.
            weights = page.locator("#weights-now")
            expect(weights).to_contain_text("v2 10%", timeout=30_000)
            expect(weights).to_contain_text("v1 90%")
            # One line per version (a flat line has no height, so "visible" would be flaky).
            expect(page.locator("#weights-chart svg polyline")).to_have_count(2)
            expect(page.locator("#steps li[aria-current=step]")).to_have_text("judgement")
            panel = page.get_by_role("region", name="Judgement")
            expect(panel).to_be_visible(timeout=30_000)
            expect(panel.locator("strong").first).to_have_text("v2")
            link = panel.get_by_role("link", name="Grafana")
            expect(link).to_have_attribute("href", "https://grafana.example/d/web?var-version=v2")
            expect(panel).to_contain_text(HOSTILE)  # shown as text, never run
            expect(panel.get_by_role("link", name="do not click")).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "1-awaiting-judgement.png"), full_page=True)

            # A viewer sees the same gate, disabled, and is told which role is missing.
            viewer = browser.new_page(viewport={"width": 1366, "height": 900})
            sign_in(viewer, dashboard + "rollouts/web", VIEWER_TOKEN)
            their_panel = viewer.get_by_role("region", name="Judgement")
            expect(their_panel.get_by_role("button", name="Approve")).to_be_disabled()
            expect(their_panel).to_contain_text("vera may: get (the role approver grants it")
            expect(viewer.get_by_role("button", name="Abort")).to_be_disabled()
            viewer.screenshot(path=str(ARTIFACTS / "1b-viewer.png"), full_page=True)
            viewer.close()

            panel.get_by_label("risk").select_option("low")
            panel.get_by_label("Comment").fill(f"error ratio flat {HOSTILE}")
            panel.get_by_role("button", name="Approve").click()
            expect(page.locator("#judgement-result")).to_contain_text("Approval recorded")

            # The rollout proceeds: the engine in `serinus run` acts on the recorded approval.
            expect(weights).to_contain_text("v2 100%", timeout=30_000)
            expect(panel).to_be_hidden()
            audit = page.locator("#audit-rows tr").filter(has_text="judge: approve")
            expect(audit).to_contain_text("alice")
            expect(audit).to_contain_text("api")
            expect(audit).to_contain_text("risk=low")
            expect(audit).to_contain_text(f"error ratio flat {HOSTILE}")
            expect(audit).to_contain_text("done", timeout=15_000)
            expect(page.locator("#rollout-phase")).to_have_text("Completed", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "2-completed.png"), full_page=True)

            assert page.evaluate("window.pwned") is None  # no injected script or handler ran
            assert problems == []
        finally:
            browser.close()

    assert run.wait(timeout=60) == 0
    status = local.wait_for({Phase.COMPLETED}, version="v2")
    assert status.stable is not None and status.stable.version == "v2"
    assert (ARTIFACTS / "2-completed.png").stat().st_size > 0
