"""The Teams message: an Adaptive Card with a title coloured by severity and a link action."""

from __future__ import annotations

import httpx

from serinus.adapters.notifiers.rendering import MessageRenderer
from serinus.adapters.notifiers.teams import TeamsNotifier
from serinus.core.events import Event, EventType


def test_adaptive_card_has_title_colour_text_and_link() -> None:
    teams = TeamsNotifier(
        webhook_url="https://x.test/w", http=httpx.AsyncClient(), renderer=MessageRenderer()
    )
    event = Event(type=EventType.ABORTED, message="error rate 12%", at=0, data={"step": 2})
    payload = teams.payload("shop", event, "https://dash/rollouts/shop")
    attachment = payload["attachments"][0]  # type: ignore[index]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    title, text = card["body"]
    assert (title["text"], title["color"]) == ("shop: Aborted", "Attention")
    assert "error rate 12%" in text["text"]
    assert "step: 2" in text["text"]
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open rollout", "url": "https://dash/rollouts/shop"}
    ]
    assert "actions" not in teams.payload("shop", event)["attachments"][0]["content"]  # type: ignore[index]


def test_user_text_cannot_inject_markdown_into_the_card() -> None:
    teams = TeamsNotifier(
        webhook_url="https://x.test/w", http=httpx.AsyncClient(), renderer=MessageRenderer()
    )
    comment = "looks fine [details](https://evil.test/phish) **urgent** `code`"
    event = Event(type=EventType.JUDGED, message=f"approved by bob: {comment}", at=0, data={})
    payload = teams.payload("shop", event)
    text = payload["attachments"][0]["content"]["body"][1]["text"]  # type: ignore[index]
    assert "[details](https://evil.test/phish)" not in text
    assert r"\[details\]\(https://evil\.test/phish\)" in text
    assert r"\*\*urgent\*\*" in text and r"\`code\`" in text
