"""Sessions that end while the dashboard is open, in Chromium: a token revoked with
`serinus token revoke` and a token whose expiry passes are signed out with the reason, without
restarting `serinus serve` (it re-reads the tokens file). One page sits on the list (it polls),
the other on a rollout page (its live stream is told `signed-out`)."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

import yaml
from dashboard_world import (
    ARTIFACTS,
    BROWSER_MARKS,
    TOKEN,
    VIEWER_TOKEN,
    Serve,
    blue_green,
    seed,
    sign_in,
)
from local_mode import SERINUS, LocalMode

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = BROWSER_MARKS


def test_revoked_and_expired_sessions_are_signed_out_with_the_reason(
    local: LocalMode, serve: Serve, browser: Any
) -> None:
    from playwright.sync_api import expect

    seed(local, blue_green("bg"), None)
    listing: Page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(listing, serve.url, VIEWER_TOKEN)
    expect(listing.get_by_role("link", name="bg")).to_be_visible()
    rollout: Page = browser.new_page(viewport={"width": 390, "height": 800})
    # Only the first live stream reaches the server: the sign-out must come from that stream's
    # `signed-out` event, not from a reconnect's 401.
    streams: list[str] = []

    def first_stream_only(route: Any) -> None:
        streams.append(route.request.url)
        if len(streams) == 1:
            route.continue_()
        else:
            route.abort()

    rollout.route("**/api/v1/rollouts/bg/events*", first_stream_only)
    sign_in(rollout, serve.url + "rollouts/bg", TOKEN)
    expect(rollout.locator("#live")).to_have_text("live")

    revoked = subprocess.run(
        [*SERINUS, "token", "revoke", "--file", str(serve.tokens)],
        input=VIEWER_TOKEN + "\n",
        env=local.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert revoked.returncode == 0 and "revoked vera's token" in revoked.stdout, revoked
    error = listing.locator("#login-error")
    expect(error).to_have_text(
        "You were signed out: this token was revoked: sign in with a new token", timeout=15_000
    )
    expect(listing.get_by_label("API token")).to_be_visible()
    expect(listing.locator("#who")).to_be_hidden()
    listing.screenshot(path=str(ARTIFACTS / "session-revoked.png"))

    # alice's token gets an expiry already past (as an editor would save the file).
    content = yaml.safe_load(serve.tokens.read_text())
    [alice] = [user for user in content["users"] if user["name"] == "alice"]
    alice["tokens"] = [{"hash": alice["tokens"][0], "expires": "2020-01-01T00:00:00Z"}]
    edited = serve.tokens.with_name("tokens.yaml.new")
    edited.write_text(yaml.safe_dump(content))
    edited.replace(serve.tokens)
    expect(rollout.locator("#login-error")).to_have_text(
        "You were signed out: this token expired at 2020-01-01T00:00:00Z: sign in with a new token",
        timeout=15_000,
    )
    assert len(streams) == 1, streams
    rollout.screenshot(path=str(ARTIFACTS / "session-expired-390.png"))
    # Signing in again with the expired token says so at once.
    sign_in(rollout, serve.url, TOKEN)
    expect(rollout.locator("#login-error")).to_contain_text("this token expired at 2020-01-01")
    assert "expired token of alice" in serve.output()
    assert "revoked token of vera" in serve.output()
