"""Stopping `serinus demo` while Chromium watches its dashboard prints no traceback (issue 12).

A signed-in page holds the rollout's live stream open when the demo gets SIGINT (Ctrl+C) or
SIGTERM; uvicorn used to wait for that response, cancel it and log "Exception in ASGI
application" with a traceback. The streams now end as the shutdown begins.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from dashboard_world import BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS, sign_in
from local_mode import SERINUS, free_port

from serinus.demo import prometheus

DASHBOARD_LINE = re.compile(
    r"dashboard at (http://127\.0\.0\.1:\d+/) \(log in with the token (\S+)\)"
)

pytestmark = [
    *BROWSER_MARKS,
    pytest.mark.skipif(not prometheus.available(), reason="needs the Debian package prometheus"),
]


def dashboard_of(output: Path, process: subprocess.Popen[str]) -> tuple[str, str]:
    """The dashboard's URL and token, once the demo has printed them."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if found := DASHBOARD_LINE.search(output.read_text()):
            return found.group(1), found.group(2)
        assert process.poll() is None, "the demo ended early:\n" + output.read_text()
        time.sleep(0.2)
    raise AssertionError("the demo printed no dashboard line:\n" + output.read_text())


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_demo_stops_without_tracebacks_while_a_browser_is_connected(
    tmp_path: Path, stop: signal.Signals
) -> None:
    from playwright.sync_api import expect, sync_playwright

    state_dir = Path(tempfile.mkdtemp(prefix="sx", dir="/tmp"))  # short: unix socket paths
    env = {**os.environ, "SERINUS_STATE_DIR": str(state_dir)}
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    command = [*SERINUS, "demo", "--quick", "--interactive", "--dashboard-port", str(free_port())]
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr, text=True)
    try:
        url, token = dashboard_of(out, process)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                sign_in(page, url, token)
                page.get_by_role("link", name="demo", exact=True).click(timeout=60_000)
                expect(page.locator("#live")).to_have_text("live", timeout=30_000)  # streaming
                assert running_under(state_dir) != []  # the check sees HAProxy and the replicas
                process.send_signal(stop)
                code = process.wait(timeout=60)
                left = running_under(state_dir)  # what it says it stopped is stopped
                expect(page.locator("#live")).to_have_text("connection lost", timeout=15_000)
            finally:
                browser.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        subprocess.run([*SERINUS, "delete", "demo"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(state_dir, ignore_errors=True)
    errors = err.read_text()
    assert code == (143 if stop == signal.SIGTERM else 130), errors
    said = "SIGTERM" if stop == signal.SIGTERM else "Ctrl+C"
    assert f"demo stopped ({said}); its replicas, HAProxy and Prometheus were stopped" in errors
    assert "Traceback" not in errors, errors
    assert "Exception in ASGI application" not in errors and "ERROR" not in errors, errors
    assert "Shutting down" in errors  # the dashboard server did stop, and said so
    assert left == [], left


def running_under(folder: Path) -> list[str]:
    """Command lines of the processes still naming `folder` (replicas, HAProxy, Prometheus)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # it ended meanwhile
        if str(folder) in words:
            found.append(words)
    return found
