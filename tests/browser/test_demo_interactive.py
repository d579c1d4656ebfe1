"""`serinus demo --quick --interactive`: the canary's judgement is clicked in Debian's Chromium.

The demo runs as a user runs it (a subprocess with its own state directory). The test reads the
dashboard's address and token from its output, signs in, waits on the page until v2's analysis
has passed and the judgement panel shows, approves it there, then checks the demo's own summary
(v2 Completed, faulty v3 Aborted by its analysis) and the audit: the approval was recorded by the
demo's dashboard user through the API. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from local_mode import SERINUS, free_port

from serinus.demo import prometheus

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
DASHBOARD_LINE = re.compile(
    r"dashboard at (http://127\.0\.0\.1:\d+/) \(log in with the token (\S+)\)"
)
DEMO_USER = "demo-user"
CHECKED_BY = "browser-test-reviewer"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy"),
    pytest.mark.skipif(
        not prometheus.available(),
        reason="needs the Debian package prometheus: without it the demo has no analysis step",
    ),
]


@dataclass
class DemoProcess:
    """The running demo, its state directory, and its output as it arrives (read by a thread)."""

    process: subprocess.Popen[str]
    env: dict[str, str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "\n".join(self.seen)

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"the demo never printed {pattern.pattern!r}:\n{self.output()}"
                )
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"the demo ended (exit {self.process.wait()}) before printing "
                    f"{pattern.pattern!r}:\n{self.output()}"
                )
            match = pattern.search(line)
            if match:
                return match

    def finish(self, timeout: float) -> int:
        """The demo's exit code once it ends on its own (and its output has been read)."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(f"the demo did not finish:\n{self.output()}") from error
        while self.lines.get(timeout=10) is not None:
            pass
        return code

    def serinus(self, *args: str) -> str:
        """Another `serinus` command on the demo's state directory."""
        done = subprocess.run(
            [*SERINUS, *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"serinus {' '.join(args)} failed: {done.stderr}"
        return done.stdout


def _read_lines(process: subprocess.Popen[str], demo: DemoProcess) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        demo.seen.append(line.rstrip("\n"))
        demo.lines.put(line)
    demo.lines.put(None)


@pytest.fixture
def demo() -> Iterator[DemoProcess]:
    # A short directory: HAProxy's and the replicas' unix sockets live under it.
    state_dir = Path(tempfile.mkdtemp(prefix="sd", dir="/tmp"))
    env = {**os.environ, "SERINUS_STATE_DIR": str(state_dir)}
    command = [*SERINUS, "demo", "--quick", "--interactive", "--json"]
    command += ["--dashboard-port", str(free_port())]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    running = DemoProcess(process, env)
    reader = threading.Thread(target=_read_lines, args=(process, running), daemon=True)
    reader.start()
    try:
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # as Ctrl+C: the demo stops what it started
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=10)
        # Whatever an interrupted demo left behind (replicas, HAProxy) goes with its record.
        subprocess.run(
            [*SERINUS, "delete", "demo"], env=env, capture_output=True, timeout=60, check=False
        )
        shutil.rmtree(state_dir, ignore_errors=True)


def test_the_demo_waits_for_the_judgement_clicked_in_chromium(demo: DemoProcess) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    found = demo.wait_for_line(DASHBOARD_LINE, timeout=60)
    dashboard, token = found.group(1), found.group(2)

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
            page.goto(dashboard)
            page.get_by_label("API token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#who-name")).to_have_text(DEMO_USER)
            # The list refreshes itself: the demo's rollout appears once v1 is submitted.
            page.get_by_role("link", name="demo", exact=True).click(timeout=60_000)
            expect(page).to_have_url(dashboard + "rollouts/demo")

            # v1 goes live, v2 starts at 10% and its analysis runs against real Prometheus;
            # only then does the rollout stop at the judgement, which nobody approves for us.
            panel = page.get_by_role("region", name="Judgement")
            expect(panel).to_be_visible(timeout=120_000)
            expect(page.locator("#rollout-phase")).to_have_text("AwaitingJudgement")
            expect(panel).to_contain_text("The analysis passed")
            expect(page.locator("#weights-now")).to_contain_text("v2 10%")
            page.screenshot(path=str(ARTIFACTS / "demo-1-awaiting-judgement.png"), full_page=True)
            assert demo.process.poll() is None, "the demo ended without waiting:\n" + demo.output()

            panel.get_by_label("checked-by").fill(CHECKED_BY)
            panel.get_by_label("Comment").fill("approved from the browser test")
            panel.get_by_role("button", name="Approve").click()
            expect(page.locator("#judgement-result")).to_contain_text(f"Approved by {DEMO_USER}")
            audit = page.locator("#audit-rows tr").filter(has_text="judge: approve")
            expect(audit).to_contain_text(DEMO_USER)
            expect(audit).to_contain_text("api")
            expect(audit).to_contain_text(f"checked-by={CHECKED_BY}")
            expect(audit).to_contain_text("done", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "demo-2-approved.png"), full_page=True)
            assert problems == []
        finally:
            browser.close()

    # The demo goes on by itself: v2 is promoted, v3's analysis fails and aborts it.
    assert demo.finish(timeout=180) == 0, demo.output()
    summary: dict[str, Any] = json.loads(demo.seen[-1])
    assert summary["outcomes"] == {"v2": "Completed", "v3": "Aborted"}
    assert summary["stable"] == "v2"
    assert summary["analysisBy"] == "prometheus"
    assert summary["analysis"]["v2"]["phase"] == "Successful"
    assert summary["analysis"]["v3"]["phase"] == "Failed"

    # The demo's record stays until its next start: the audit holds the click, and nothing else
    # judged v2 (no auto-approval) nor v3 (aborted by its analysis, not by a judgement).
    history = json.loads(demo.serinus("history", "demo", "-o", "json"))
    judgements = [op for op in history["operations"] if op["kind"] == "judge"]
    assert len(judgements) == 1, judgements
    (judged,) = judgements
    assert judged["actor"] == DEMO_USER
    assert judged["source"] == "api"
    assert judged["approve"] is True
    assert judged["inputs"] == {"checked-by": CHECKED_BY}
    assert judged["comment"] == "approved from the browser test"
    assert judged["outcome"] == "done"
