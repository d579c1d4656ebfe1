"""The Slack message: Block Kit in an attachment coloured by severity, with the rollout link."""

from __future__ import annotations

import json

import httpx

from serinus.adapters.notifiers.rendering import MessageRenderer
from serinus.adapters.notifiers.slack import SECTION_TEXT_LIMIT, SEVERITY_COLORS, SlackNotifier
from serinus.core.events import Event, EventType, Severity

LINK = "https://dash.example/rollouts/shop"


def notifier(http: httpx.AsyncClient | None = None, **options: str) -> SlackNotifier:
    return SlackNotifier(
        webhook_url="https://hooks.slack.test/services/T/B/x",
        http=http or httpx.AsyncClient(),
        renderer=MessageRenderer(),
        **options,  # type: ignore[arg-type]
    )


def test_attachment_colour_follows_severity() -> None:
    cases = {
        EventType.COMPLETED: Severity.SUCCESS,
        EventType.AWAITING_JUDGEMENT: Severity.WARNING,
        EventType.ABORTED: Severity.ERROR,
        EventType.STEP_COMPLETED: Severity.INFO,
    }
    for event_type, severity in cases.items():
        payload = notifier().payload("shop", Event(type=event_type, message="m", at=0))
        assert payload["attachments"][0]["color"] == SEVERITY_COLORS[severity]  # type: ignore[index]
    rejected = Event(type=EventType.JUDGED, message="no", at=0, data={"approved": False})
    payload = notifier().payload("shop", rejected)
    assert payload["attachments"][0]["color"] == SEVERITY_COLORS[Severity.ERROR]  # type: ignore[index]


def test_blocks_carry_the_text_and_a_button_to_the_rollout() -> None:
    event = Event(
        type=EventType.AWAITING_JUDGEMENT, message="check Grafana", at=0, data={"step": 3}
    )
    payload = notifier().payload("shop", event, LINK)
    blocks = payload["attachments"][0]["blocks"]  # type: ignore[index]
    assert blocks[0]["text"]["type"] == "mrkdwn"
    assert "*Awaiting judgement*" in blocks[0]["text"]["text"]
    assert "check Grafana" in blocks[0]["text"]["text"]
    assert "*step*: 3" in blocks[0]["text"]["text"]
    assert blocks[-1]["elements"][0]["url"] == LINK
    assert payload["text"] == "shop: AwaitingJudgement: check Grafana"


def test_no_link_no_button_and_channel_username_only_when_set() -> None:
    payload = notifier().payload("shop", Event(type=EventType.FAILED, message="m", at=0))
    blocks = payload["attachments"][0]["blocks"]  # type: ignore[index]
    assert all(block["type"] != "actions" for block in blocks)
    assert "channel" not in payload
    assert "username" not in payload
    payload = notifier(channel="#deploys", username="serinus").payload(
        "shop", Event(type=EventType.FAILED, message="m", at=0)
    )
    assert (payload["channel"], payload["username"]) == ("#deploys", "serinus")


def test_long_messages_are_cut_to_slacks_limit() -> None:
    event = Event(type=EventType.FAILED, message="x" * 5000, at=0)
    text = notifier().payload("shop", event)["attachments"][0]["blocks"][0]["text"]["text"]  # type: ignore[index]
    assert len(text) == SECTION_TEXT_LIMIT
    assert text.endswith("…")


async def test_send_posts_the_payload_as_json_to_the_webhook() -> None:
    seen: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="ok")

    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as http:
        slack = notifier(http)
        event = Event(type=EventType.PROMOTED, message="done", at=0)
        await slack.send("shop", event, LINK)
    assert str(seen[0].url) == "https://hooks.slack.test/services/T/B/x"
    assert json.loads(seen[0].content) == slack.payload("shop", event, LINK)
