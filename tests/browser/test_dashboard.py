"""The dashboard in Debian's Chromium against a real local rollout (HAProxy, demo replicas).

`serinus run` drives the rollout and `serinus serve` shows it, two processes sharing the state
directory, as a user would run them. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from dashboard_world import ARTIFACTS, BROWSER_MARKS, TOKEN, VIEWER_TOKEN, Serve, sign_in
from local_mode import LocalMode, free_port, rollout_document

from serinus.core.status import Phase

if TYPE_CHECKING:
    from playwright.sync_api import Browser

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

pytestmark = BROWSER_MARKS


def test_watch_judge_and_audit_a_real_rollout_in_chromium(
    local: LocalMode, serve: Serve, browser: Browser
) -> None:
    from playwright.sync_api import expect

    dashboard = serve.url
    port = free_port()
    first = local.start_run(local.write(rollout_document("v1", port, steps=STEPS)))
    assert local.finish(first).count("Completed") >= 1
    run = local.start_run(local.write(rollout_document("v2", port, steps=STEPS)))

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
    expect(page.locator("#judgement-result")).to_contain_text("Approved by alice")

    # The rollout proceeds: the engine in `serinus run` acts on the recorded approval.
    expect(weights).to_contain_text("v2 100%", timeout=30_000)
    # The decision stays in view: who decided, when.
    expect(panel.locator("#judgement-decided")).to_contain_text("Approved by alice at")
    expect(panel.get_by_role("button", name="Approve")).to_be_hidden()
    audit = page.locator("#audit-rows tr").filter(has_text="judge: approve")
    expect(audit).to_contain_text("alice")
    expect(audit).to_contain_text("api")
    expect(audit).to_contain_text("risk=low")
    expect(audit).to_contain_text(f"error ratio flat {HOSTILE}")
    expect(audit).to_contain_text("done", timeout=15_000)
    expect(page.locator("#rollout-phase")).to_have_text("Completed", timeout=30_000)
    # Promoted: every step is done, none is current.
    expect(page.locator("#steps li[data-state=done]")).to_have_count(len(STEPS))
    expect(page.locator("#steps li[aria-current]")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "2-completed.png"), full_page=True)

    assert page.evaluate("window.pwned") is None  # no injected script or handler ran
    assert problems == []

    assert run.wait(timeout=60) == 0
    # Playwright's event loop runs in this thread (the browser fixture): read the store off it.
    with ThreadPoolExecutor(1) as pool:
        status = pool.submit(local.wait_for, {Phase.COMPLETED}, version="v2").result()
    assert status.stable is not None and status.stable.version == "v2"
    assert (ARTIFACTS / "2-completed.png").stat().st_size > 0
