"""The dashboard off the happy path, in Debian's Chromium at 1280 px and 390 px (issue 12).

One real local rollout (`serinus run` + `serinus serve`) goes through an analysis, a judgement, a
timed pause and an abort; each checkpoint is checked on the page and in a screenshot at both
widths (test-artifacts/browser/trust-*.png), whose size the test reads back.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from dashboard_world import (
    ARTIFACTS,
    BROWSER_MARKS,
    TOKEN,
    VIEWER_TOKEN,
    Serve,
    png_width,
    sign_in,
)
from local_mode import LocalMode, free_port, rollout_document

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

DESKTOP, PHONE = 1280, 390
BLUE, GREEN = "rgb(37, 99, 235)", "rgb(21, 128, 61)"
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (UTC|[+-]\d\d:\d\d)")
LONG_WORD = "x" * 10_000  # one unbroken word: it must wrap, never widen the page
TEMPLATE = {
    "name": "errors",
    "metrics": [
        {
            "name": "error-ratio",
            "interval": "1s",
            "count": 3,
            "successCondition": "result[0] < 0.05",
            "provider": {
                "command": {"command": [sys.executable, "-c", "print(0.01)"], "output": "stdout"}
            },
        }
    ],
}
STEPS = [
    {"setWeight": 10},
    {"analysis": {"templates": ["errors"]}},
    {
        "judgement": {
            "instructions": f"Check the error ratio.\n\n{LONG_WORD}",
            "inputs": [{"name": "risk", "options": ["low", "high"]}],
            "timeout": "30m",
        }
    },
    {"setWeight": 50},
    {"pause": {"duration": "10m"}},
    {"setWeight": 100},
]

pytestmark = BROWSER_MARKS


def fits(page: Page, name: str) -> None:
    """At both widths: nothing wider than the viewport, Abort on screen, chart text >= 10 px;
    the full-page screenshot is as wide as the viewport (read back from the PNG)."""
    for width in (DESKTOP, PHONE):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_function(
            "w => document.querySelector('#weights-chart svg')?.getAttribute('width') <= w",
            arg=width,
        )
        sizes = page.evaluate(
            """() => ({
                scroll: document.documentElement.scrollWidth,
                inner: innerWidth,
                abort: document.querySelector('[data-op=abort]').getBoundingClientRect().right,
                font: Math.min(...[...document.querySelectorAll('.chart svg text')].map(
                    t => t.getBoundingClientRect().height ? parseFloat(getComputedStyle(t).fontSize)
                        * t.ownerSVGElement.getBoundingClientRect().width
                        / t.ownerSVGElement.viewBox.baseVal.width : 99)),
            })"""
        )
        assert sizes["scroll"] <= sizes["inner"], (name, width, sizes)
        assert sizes["abort"] <= sizes["inner"], (name, width, sizes)
        assert sizes["font"] >= 10, (name, width, sizes)
        path = ARTIFACTS / f"trust-{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        assert png_width(path) == width, path
        # The long instructions make the full page tall: the top, as a person first sees it.
        page.evaluate("scrollTo(0, 0)")
        page.screenshot(path=str(ARTIFACTS / f"trust-{name}-{width}-top.png"))
    page.set_viewport_size({"width": DESKTOP, "height": 900})


def swatch_colors(page: Page) -> dict[str, str]:
    """Each replica row's color name and its swatch's computed background."""
    rows: list[list[str]] = page.evaluate(
        """() => [...document.querySelectorAll('#replica-rows tr')].map(tr => [
            tr.cells[0].textContent.trim(),
            getComputedStyle(tr.querySelector('.swatch')).backgroundColor])"""
    )
    return dict((name, color) for name, color in rows)


def series(page: Page) -> dict[str, dict[str, Any]]:
    """The weight chart's lines: stroke and points per version, with the 0% and 100% heights."""
    found: dict[str, dict[str, Any]] = page.evaluate(
        """() => {
            const svg = document.querySelector('#weights-chart svg');
            const grid = [...svg.querySelectorAll('line.gridline')].map(l => +l.getAttribute('y1'));
            const out = {};
            for (const line of svg.querySelectorAll('polyline')) {
                out[line.dataset.label] = {
                    stroke: line.getAttribute('stroke'), zero: grid[0], full: grid[4],
                    points: line.getAttribute('points').split(' ')
                        .map(p => p.split(',').map(Number)),
                };
            }
            return out;
        }"""
    )
    return found


def assert_dropped_at_the_abort(lines: dict[str, dict[str, Any]]) -> None:
    """v1 ends at 100%, v2 at 0%, and v2's 0% began well before "now" (the chart's end)."""
    v1, v2 = lines["v1"], lines["v2"]
    assert v1["points"][-1][1] == v1["full"] and v2["points"][-1][1] == v2["zero"]
    tail = []
    for x, y in reversed(v2["points"]):
        if y != v2["zero"]:
            break
        tail.append(x)
    assert max(tail) - min(tail) > 10, v2  # a flat 0% segment from the abort to now
    assert any(y < v2["zero"] for _, y in v2["points"])  # above 0% before


def test_an_sre_can_trust_the_dashboard_through_analysis_judgement_and_abort(
    local: LocalMode, serve: Serve, browser: Browser
) -> None:
    from playwright.sync_api import expect

    document = rollout_document("v1", free_port(), steps=STEPS)
    document["spec"]["analysisTemplates"] = [TEMPLATE]
    assert "Completed" in local.finish(local.start_run(local.write(document)))
    document["spec"]["version"] = "v2"
    run = local.start_run(local.write(document))

    page = browser.new_page(viewport={"width": DESKTOP, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, serve.url + "rollouts/web", TOKEN)
    panel = page.get_by_role("region", name="Judgement")
    try:
        expect(panel.locator("#approve")).to_be_visible(timeout=60_000)
    except AssertionError as exc:
        raise AssertionError(f"no judgement; serinus run said:\n{local.output(run)}") from exc

    # The analysis report: the run named as the timeline numbers its step, the query, the
    # condition and the measurements against a threshold line.
    report = page.locator("#analysis")
    expect(report.locator("h3")).to_have_text("step 2: analysis errors: Successful")
    expect(report).to_contain_text("print(0.01) (command)")
    expect(report).to_contain_text("Succeeds when" + "result[0] < 0.05")
    expect(report.locator(".chart line.threshold")).to_have_count(1)
    expect(report.locator(".chart")).to_contain_text("threshold 0.05")
    assert not [t for t in report.locator(".chart svg text").all_text_contents() if "e-" in t]

    # The judgement: waiting time, countdown, what each button does; Promote would be refused.
    expect(panel.locator("#judgement-timing")).to_contain_text("Waiting for a decision for")
    expect(panel.locator("#judgement-timing")).to_contain_text(re.compile(r"times out in (29|30)m"))
    expect(panel.locator("#judgement-timing")).to_contain_text("then the rollout is aborted")
    expect(panel).to_contain_text("Approve: continue to step 4 (setWeight 50%)")
    expect(panel).to_contain_text("Reject: abort, all traffic back to v1")
    expect(page.locator("[data-op=promote]")).to_be_disabled()
    expect(page.locator("[data-op=promote-full]")).to_be_enabled()
    states = page.locator("#steps li").evaluate_all("l => l.map(i => i.dataset.state)")
    assert states == ["done", "done", "current", "pending", "pending", "pending"]

    # Colours by slot, in the swatches and the chart alike.
    colors = swatch_colors(page)
    assert colors == {"blue": BLUE, "green": GREEN}
    slots = dict(
        page.locator("#replica-rows tr").evaluate_all(
            "rows => rows.map(r => [r.cells[1].textContent, r.cells[0].textContent.trim()])"
        )
    )
    hexes = {"blue": "#2563eb", "green": "#15803d"}
    lines = series(page)
    assert {version: line["stroke"] for version, line in lines.items()} == {
        version: hexes[slot] for version, slot in slots.items()
    }
    fits(page, "judgement")

    viewer_sees_a_judged_metric_as_a_report(browser, serve.url)

    panel.get_by_label("risk").select_option("low")
    comment = "y" * 2000  # the longest comment the API takes, unbroken
    panel.get_by_label("Comment").fill(comment)
    panel.get_by_role("button", name="Approve").click()
    decided = panel.locator("#judgement-decided")
    expect(decided).to_contain_text("Approved by alice at", timeout=30_000)
    expect(decided).to_have_text(STAMP)
    expect(decided).to_contain_text("(risk=low)")
    expect(panel.locator("#judgement-timing")).to_be_hidden()  # no stale countdown
    expect(panel.locator("#judgement-instructions")).to_be_hidden()

    # The timed pause counts down, and Promote applies there.
    current = page.locator("#steps li[aria-current=step]")
    expect(current).to_contain_text("pause 600s", timeout=60_000)
    expect(current.locator(".countdown")).to_contain_text(re.compile(r"continues in (9|10)m"))
    expect(page.locator("[data-op=promote]")).to_be_enabled()

    # Abort asks first; Cancel records nothing.
    page.get_by_role("button", name="Abort").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("All traffic goes back to v1; v2 is scaled down.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#ops-result")).to_have_text("")
    page.get_by_role("button", name="Abort").click()
    dialog.get_by_role("button", name="Abort").click()
    expect(page.locator("#rollout-phase")).to_have_text("Aborted", timeout=30_000)

    # After the abort: the step it stopped at is crossed, nothing is current, the canary's line
    # drops to 0 at the abort (a flat 0 segment up to now), its replicas read "scaled down".
    failed = page.locator("#steps li[data-state=failed]")
    expect(failed).to_contain_text("pause 600s")
    expect(page.locator("#steps li[aria-current]")).to_have_count(0)
    # Read in one go: a status update may replace the list (a detached item has no style).
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('#steps li[data-state=failed]'),"
        " '::after').content === '\" ✗\"'"
    )
    v2_row = page.locator("#replica-rows tr").filter(has_text="v2")
    expect(v2_row).to_contain_text("scaled down", timeout=30_000)
    assert_dropped_at_the_abort(series(page))
    # A page opened after the abort knows the history from the recorded events alone.
    later = browser.new_page(viewport={"width": DESKTOP, "height": 900})
    sign_in(later, serve.url + "rollouts/web", VIEWER_TOKEN)
    expect(later.locator("#rollout-phase")).to_have_text("Aborted")
    expect(later.locator("#weights-chart polyline")).to_have_count(2)
    assert_dropped_at_the_abort(series(later))
    later.close()

    # The audit: dates with zones, what each operation applied to, no event listed twice.
    audit = page.locator("#audit-rows tr")
    expect(audit.filter(has_text="abort")).to_contain_text("done", timeout=15_000)
    judged = audit.filter(has_text="judge: approve")
    expect(judged).to_contain_text("risk=low")
    expect(judged).to_contain_text(re.compile(r"v2, revision \d+, step 3"))
    expect(audit.filter(has_text="abort").locator("td").nth(2)).to_have_text("v2")
    for text in audit.locator("td:first-child").all_text_contents():
        assert STAMP.fullmatch(text), text
    events = page.locator("#events li").all_text_contents()
    assert len(events) == len(set(events)) and events
    fits(page, "aborted")

    # The server dies: every action is disabled and the page says so.
    serve.stop()
    expect(page.locator("#notice")).to_contain_text("connection to the server is lost")
    for button in page.locator("#ops-buttons button").all():
        expect(button).to_be_disabled()
    page.screenshot(path=str(ARTIFACTS / "trust-connection-lost-1280.png"), full_page=True)
    assert errors == []
    run.send_signal(signal.SIGTERM)
    run.wait(timeout=30)


def viewer_sees_a_judged_metric_as_a_report(browser: Browser, url: str) -> None:
    """A judged metric (estimate, interval) with float noise and a doubled prefix, served in
    place of the real analysis: one legend, rounded labels, one sentence, a lone value as text."""
    from playwright.sync_api import Route, expect

    at = time.time() - 30
    judged = [
        {"phase": "Failed", "at": at + i, "details": {"estimate": e, "ciLow": e - 2e-3,
         "ciHigh": e + 3e-3, "pValue": 0.2, "classification": "High"}}
        for i, e in enumerate([-8.674e-19, 37e-19, 0.001])
    ]  # fmt: skip
    payload = {
        "runs": [
            {
                "name": "step-1",
                "title": "step 2: analysis latency",
                "phase": "Failed",
                "message": "Failed: Failed: 1 failed measurements > failureLimit 0",
                "metrics": [
                    {"name": "p95-latency", "phase": "Failed", "failed": 1, "measurements": judged},
                    {
                        "name": "errors",
                        "phase": "Successful",
                        "successful": 1,
                        "measurements": [{"phase": "Successful", "at": at, "value": [0.31]}],
                    },
                ],
            }
        ],
        "metrics": [
            {"name": "p95-latency", "provider": "prometheus", "query": "baseline: b\ncanary: c",
             "successCondition": None, "failureCondition": None, "threshold": None, "unit": "s",
             "intervalSeconds": 60, "count": 3, "failureLimit": 0,
             "judge": {"tolerance": 0.1, "confidenceLevel": 0.95}},
            {"name": "errors", "provider": "prometheus", "query": "q", "unit": "",
             "successCondition": "result[0] < 0.5", "failureCondition": None, "threshold": 0.5,
             "intervalSeconds": None, "count": None, "failureLimit": 0, "judge": None},
        ],
        "events": [],
    }  # fmt: skip

    def fake(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(payload))

    viewer = browser.new_page(viewport={"width": PHONE, "height": 900})
    viewer.route(re.compile(r".*/api/v1/rollouts/web/analysis.*"), fake)
    sign_in(viewer, url + "rollouts/web", VIEWER_TOKEN)
    report = viewer.locator("#analysis")
    expect(report.locator("h3")).to_have_text("step 2: analysis latency: Failed")
    expect(report.locator(".reason")).to_have_text("Failed: 1 failed measurements > failureLimit 0")
    latency = report.locator("[data-metric=p95-latency]")
    expect(latency).to_contain_text("tolerance 0.1, confidenceLevel 0.95")
    legend = latency.locator("svg text").all_text_contents()
    assert [t for t in legend if not re.fullmatch(r"[-\d.:]+(s)?|\d\d:\d\d:\d\d", t)] == [
        "estimate",
        "interval",
    ], legend
    assert not [t for t in legend if "e-" in t or len(t) > 8], legend
    errors = report.locator("[data-metric=errors]")
    expect(errors.locator(".single")).to_have_text("Measured 0.31 (threshold 0.5)")
    expect(errors.locator("circle, svg")).to_have_count(0)
    # A viewer's buttons are disabled, and so is the judgement.
    expect(viewer.locator("#approve")).to_be_disabled()
    expect(viewer.get_by_role("button", name="Abort")).to_be_disabled()
    viewer.screenshot(path=str(ARTIFACTS / "trust-judged-metric-390.png"), full_page=True)
    assert viewer.evaluate("document.documentElement.scrollWidth <= innerWidth")
    viewer.close()


def test_signed_out_unknown_rollout_and_a_throttled_sign_in(
    local: LocalMode, serve: Serve, browser: Browser
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": PHONE, "height": 800})
    page.goto(serve.url)
    expect(page.get_by_label("API token")).to_be_visible()
    assert "Signed in" not in page.locator("header").inner_text()
    expect(page.locator("#who")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "trust-signed-out-390.png"), full_page=True)

    sign_in(page, serve.url + "rollouts/nope", TOKEN)
    expect(page.locator("#notice")).to_have_text("There is no rollout named nope.")
    for button in page.locator("#ops-buttons button").all():
        expect(button).to_be_disabled()
    expect(page.locator("#judgement")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    page.screenshot(path=str(ARTIFACTS / "trust-unknown-rollout-390.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#who")).to_be_hidden()

    # Wrong tokens until the API throttles: the page says how long to wait.
    error = page.locator("#login-error")
    for attempt in range(30):
        page.get_by_label("API token").fill(f"wrong-token-{attempt}")
        page.get_by_role("button", name="Sign in").click()
        expect(error).not_to_have_text("")
        if "try again in" in error.inner_text():
            break
        page.evaluate("document.getElementById('login-error').textContent = ''")
    expect(error).to_contain_text(re.compile(r"too many failed sign-ins: try again in \d+"))
    page.screenshot(path=str(ARTIFACTS / "trust-throttled-390.png"), full_page=True)
