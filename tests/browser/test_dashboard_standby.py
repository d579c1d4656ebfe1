"""Versions without user traffic on the rollout page, in Chromium at 1280 px and 390 px: the
blue-green preview (a link, "takes no user traffic", only while it is open) and the rollback
window (the kept version, its replicas and deadline, Undo instant while it is open).

`serinus serve` shows a blue-green rollout whose state is stored as `serinus run` leaves it (the
engine's part is proved in the strategy and engine tests); each view is checked on the page and
in a full-page screenshot whose width the test reads back (no horizontal overflow).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from api_world import kept_after_completion, previewing
from dashboard_world import (
    ARTIFACTS,
    BROWSER_MARKS,
    PREVIEW_PORT,
    TOKEN,
    Serve,
    blue_green,
    png_width,
    seed,
    sign_in,
)
from local_mode import LocalMode

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = BROWSER_MARKS


def fits(page: Page, name: str) -> None:
    """At both widths nothing is wider than the viewport, read back from the screenshot too."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        sizes = page.evaluate(
            "() => ({scroll: document.documentElement.scrollWidth, inner: innerWidth})"
        )
        assert sizes["scroll"] <= sizes["inner"], (name, width, sizes)
        path = ARTIFACTS / f"standby-{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        assert png_width(path) == width, path
    page.set_viewport_size({"width": 1280, "height": 900})


def test_the_preview_link_then_the_rollback_window(
    local: LocalMode, serve: Serve, browser: Any
) -> None:
    from playwright.sync_api import expect

    now = time.time()
    seed(local, blue_green("bg"), previewing(now))

    page: Page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, serve.url + "rollouts/bg", TOKEN)
    preview = page.locator("#preview")
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("Preview: v2 (green) at")
    expect(preview).to_contain_text("it takes no user traffic until it is promoted")
    link = preview.get_by_role("link", name=f"http://127.0.0.1:{PREVIEW_PORT}/")
    expect(link).to_have_attribute("href", f"http://127.0.0.1:{PREVIEW_PORT}/")
    expect(page.locator("#rollback-window")).to_be_hidden()
    expect(page.locator("#replica-rows tr").filter(has_text="green")).to_contain_text("preview")
    fits(page, "preview")

    # Promoted and completed: the preview is gone, v1 is kept at 1 of 3 replicas for 15 minutes.
    until = now + 900
    completed = kept_after_completion(now, until)
    seed(local, blue_green("bg"), completed)
    window = page.locator("#rollback-window")
    expect(window).to_be_visible(timeout=15_000)
    expect(preview).to_be_hidden()
    shown = time.strftime("%H:%M", time.localtime(until))
    expect(window).to_contain_text(f"v1 kept at 1/3 replicas until {shown}")
    expect(window).to_contain_text(f"until {shown} (closes in 1")  # 14m or 15m left
    expect(window).to_contain_text("Undo is instant while it is open")
    expect(page.locator("#replica-rows")).to_contain_text("kept")
    fits(page, "window")

    # The window closed: nothing is kept any more, and the line goes away.
    seed(local, blue_green("bg"), completed.model_copy(update={"rollback_window": None}))
    expect(window).to_be_hidden(timeout=15_000)
    assert problems == []
