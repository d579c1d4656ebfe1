"""Slack incoming webhooks: a Block Kit message in an attachment coloured by severity.

Block Kit blocks have no colour of their own; the coloured bar comes from the legacy
attachment that wraps them, which Slack still renders for incoming webhooks.
"""

from __future__ import annotations

import httpx

from serinus.adapters.notifiers.posting import post
from serinus.adapters.notifiers.rendering import MessageContext, MessageRenderer, escape_mrkdwn
from serinus.core.events import Event, Severity

SEVERITY_COLORS: dict[Severity, str] = {
    Severity.INFO: "#439fe0",
    Severity.SUCCESS: "#2eb886",
    Severity.WARNING: "#daa038",
    Severity.ERROR: "#a30200",
}
SECTION_TEXT_LIMIT = 3000  # Slack rejects longer section texts


class SlackNotifier:
    def __init__(
        self,
        *,
        webhook_url: str,
        http: httpx.AsyncClient,
        renderer: MessageRenderer,
        channel: str | None = None,
        username: str | None = None,
    ) -> None:
        self._webhook_url = webhook_url
        self._http = http
        self._renderer = renderer
        self._channel = channel
        self._username = username

    def payload(self, rollout: str, event: Event, link: str | None = None) -> dict[str, object]:
        context = MessageContext(rollout, event, link)
        text = self._renderer.render("slack.mrkdwn.j2", context)
        if len(text) > SECTION_TEXT_LIMIT:
            text = text[: SECTION_TEXT_LIMIT - 1] + "…"
        at = context.as_template_vars()["at_iso"]
        blocks: list[dict[str, object]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"{event.severity.value} · {at}"}],
            },
        ]
        if link:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Open rollout"},
                            "url": link,
                        }
                    ],
                }
            )
        fallback = escape_mrkdwn(f"{rollout}: {event.type.value}: {event.message}")
        payload: dict[str, object] = {
            "text": fallback,
            "attachments": [
                {"color": SEVERITY_COLORS[event.severity], "fallback": fallback, "blocks": blocks}
            ],
        }
        # Only legacy webhooks honour these; app webhooks post where they were installed.
        if self._channel:
            payload["channel"] = self._channel
        if self._username:
            payload["username"] = self._username
        return payload

    async def send(self, rollout: str, event: Event, link: str | None = None) -> None:
        await post(
            self._http, self._webhook_url, "slack webhook", json=self.payload(rollout, event, link)
        )
