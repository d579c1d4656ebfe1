"""A sequential metric in the dashboard's analysis report, in Chromium at 1280 px and 390 px.

`serinus serve` shows a rollout whose status holds a sequential run made by the core's own
looks (`sequential_world`): first running (evidence below 1/alpha, too few canary requests to
pass), then failed (the look whose evidence reached 1/alpha). The report says how the metric is
judged, draws the evidence on a log scale against 1/alpha = 20 and the canary's requests against
minSamples, and gives the reason in one sentence; nothing is wider than the viewport, read back
from full-page screenshots.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from dashboard_world import ARTIFACTS, BROWSER_MARKS, TOKEN, Serve, png_width, seed, sign_in
from local_mode import LocalMode
from sequential_world import CANARY_REQUESTS, METRIC, analysing, looks, rollout_document

from serinus.core.status import Phase

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = BROWSER_MARKS

# Where each chart's lines are, read from its SVG: tick labels with their heights, the
# threshold's height, and its legend.
CHART = """box => [...box.querySelectorAll('.chart')].map(chart => {
    const svg = chart.querySelector('svg');
    const texts = [...svg.querySelectorAll('text')];
    const ticks = [...svg.querySelectorAll('line.gridline')].map(
        (line, i) => [texts[i].textContent, +line.getAttribute('y1')]);
    return {
        title: chart.querySelector('.chart-title').textContent,
        ticks,
        threshold: +svg.querySelector('line.threshold').getAttribute('y1'),
        legend: texts.slice(ticks.length + 2).map(t => t.textContent),
        lines: svg.querySelectorAll('polyline').length,
    };
})"""


def fits(page: Page, name: str) -> None:
    """At both widths nothing is wider than the viewport and the charts are drawn at the
    page's width; the full-page screenshot is as wide as the viewport (read back)."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_function(
            "w => [...document.querySelectorAll('#analysis .chart svg')].every("
            "svg => +svg.getAttribute('width') <= w)",
            arg=width,
        )
        sizes = page.evaluate(
            "() => ({scroll: document.documentElement.scrollWidth, inner: innerWidth,"
            " widest: Math.max(...[...document.querySelectorAll('#analysis *')].map("
            " e => e.getBoundingClientRect().right))})"
        )
        assert sizes["scroll"] <= sizes["inner"], (name, width, sizes)
        assert sizes["widest"] <= sizes["inner"], (name, width, sizes)
        path = ARTIFACTS / f"sequential-{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        assert png_width(path) == width, path
    page.set_viewport_size({"width": 1280, "height": 900})


def charts(metric: Locator) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = metric.evaluate(CHART)
    return found


def assert_log_scale(evidence: dict[str, Any]) -> None:
    """Ticks at powers of ten, evenly spaced, and 1/alpha = 20 drawn log10(2) of a decade
    above 10: the axis is logarithmic, not linear."""
    labels = [label for label, _ in evidence["ticks"]]
    assert labels == ["0.1", "1", "10", "100"], labels
    heights = {label: y for label, y in evidence["ticks"]}
    decade = heights["10"] - heights["100"]
    assert abs((heights["1"] - heights["10"]) - decade) < 0.5, heights
    expected = heights["10"] - math.log10(2) * decade
    assert abs(evidence["threshold"] - expected) < 0.5, (evidence, expected)


def test_the_evidence_against_one_over_alpha_and_the_requests_against_min_samples(
    local: LocalMode, serve: Serve, browser: Any
) -> None:
    from playwright.sync_api import expect

    started = time.time() - 40
    running, failed = looks(started)
    seed(local, rollout_document("seq"), analysing(running, started))

    page: Page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, serve.url + "rollouts/seq", TOKEN)
    report = page.locator("#analysis")
    expect(report.locator("h3")).to_have_text("step 2: analysis errors: Running")
    metric = report.locator(f"[data-metric={METRIC}]")
    # how it is judged, and what it reads
    expect(metric).to_contain_text("sequential test, alpha 0.05, minSamples 200")
    expect(metric).to_contain_text(
        "the evidence that the canary's errors are above the baseline's reaches 1/alpha = 20"
    )
    expect(metric).to_contain_text("the looks end with at least minSamples 200 canary requests")
    expect(metric).to_contain_text(f"canary.requests: {CANARY_REQUESTS}")
    expect(metric).to_contain_text("(prometheus)")
    expect(metric).to_contain_text("every 1s, 36 times")
    expect(metric.locator(".look")).to_have_text(
        "Evidence 2.28, below 1/alpha = 20 (canary errors 2.00% of 50 requests, baseline 0.22% "
        "of 450); 50 of minSamples 200 canary requests, too few to pass yet."
    )
    expect(metric.locator(".chart svg")).to_have_count(2)
    evidence, requests = charts(metric)
    assert evidence["title"] == f"{METRIC}: evidence (log scale)"
    assert evidence["legend"] == ["evidence", "fails when evidence reaches 1/alpha = 20"]
    assert_log_scale(evidence)
    assert requests["title"] == f"{METRIC}: canary requests"
    assert requests["legend"] == ["canary requests", "minSamples 200"]
    assert [label for label, _ in requests["ticks"]] == ["0", "60", "120", "180", "240"]
    assert evidence["lines"] == requests["lines"] == 1
    # the sentence says what the last look's message says: not twice
    assert "Last" not in metric.locator("dt").all_text_contents()
    fits(page, "running")

    # The look whose evidence reached 1/alpha: the run failed and the rollout was aborted.
    aborted = analysing(failed, started).model_copy(
        update={
            "phase": Phase.ABORTED,
            "weights": {"blue": 100, "green": 0},
            "message": failed.message,
        }
    )
    seed(local, rollout_document("seq"), aborted)
    expect(report.locator("h3")).to_have_text("step 2: analysis errors: Failed", timeout=15_000)
    expect(metric.locator(".look")).to_have_text(
        "Evidence 44.3 reached 1/alpha = 20: canary errors 2.50% of 200 requests, baseline "
        "0.33% of 1800."
    )
    evidence, requests = charts(metric)
    assert_log_scale(evidence)
    assert requests["legend"] == ["canary requests", "minSamples 200"]
    fits(page, "failed")
    assert problems == []
