"""Microsoft Teams incoming webhooks: an Adaptive Card with a coloured title and a link.

The `{type: message, attachments: [adaptive card]}` envelope is what both Teams Workflows
webhooks and the older Office 365 connectors accept.
"""

from __future__ import annotations

import httpx

from serinus.adapters.notifiers.posting import post
from serinus.adapters.notifiers.rendering import MessageContext, MessageRenderer, event_title
from serinus.core.events import Event, Severity

# Adaptive Card text colours.
SEVERITY_COLORS: dict[Severity, str] = {
    Severity.INFO: "Accent",
    Severity.SUCCESS: "Good",
    Severity.WARNING: "Warning",
    Severity.ERROR: "Attention",
}


class TeamsNotifier:
    def __init__(
        self, *, webhook_url: str, http: httpx.AsyncClient, renderer: MessageRenderer
    ) -> None:
        self._webhook_url = webhook_url
        self._http = http
        self._renderer = renderer

    def payload(self, rollout: str, event: Event, link: str | None = None) -> dict[str, object]:
        context = MessageContext(rollout, event, link)
        card: dict[str, object] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {
                    "type": "TextBlock",
                    "text": f"{rollout}: {event_title(event)}",
                    "weight": "Bolder",
                    "size": "Medium",
                    "color": SEVERITY_COLORS[event.severity],
                    "wrap": True,
                },
                {
                    "type": "TextBlock",
                    "text": self._renderer.render("teams.md.j2", context),
                    "wrap": True,
                },
            ],
        }
        if link:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Open rollout", "url": link}]
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        }

    async def send(self, rollout: str, event: Event, link: str | None = None) -> None:
        await post(
            self._http, self._webhook_url, "teams webhook", json=self.payload(rollout, event, link)
        )
