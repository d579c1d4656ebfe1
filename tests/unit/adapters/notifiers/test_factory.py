"""Each channel kind builds its notifier from the spec and the resolved secrets."""

from __future__ import annotations

import httpx

from serinus.adapters.notifiers.factory import BUILDERS, NotifierDeps, build_notifier
from serinus.adapters.notifiers.rendering import MessageRenderer
from serinus.adapters.notifiers.slack import SlackNotifier
from serinus.adapters.notifiers.smtp import SmtpNotifier
from serinus.adapters.notifiers.teams import TeamsNotifier
from serinus.adapters.notifiers.twilio import TwilioSmsNotifier
from serinus.adapters.notifiers.webhook import WebhookNotifier
from serinus.core.events import Event, EventType
from serinus.core.notification_spec import CHANNEL_KINDS, Channel


def deps() -> NotifierDeps:
    return NotifierDeps(http=httpx.AsyncClient(), renderer=MessageRenderer(), clock=lambda: 100.0)


def test_every_channel_kind_has_a_builder() -> None:
    assert set(BUILDERS) == set(CHANNEL_KINDS)


def test_builders_make_the_matching_notifier() -> None:
    ref = {"env": "X"}
    cases = [
        ({"slack": {"webhookUrlFrom": ref}}, {"webhookUrl": "u"}, SlackNotifier),
        ({"teams": {"webhookUrlFrom": ref}}, {"webhookUrl": "u"}, TeamsNotifier),
        (
            {"email": {"host": "h", "from": "a@b", "to": ["c@d"]}},
            {},
            SmtpNotifier,
        ),
        (
            {
                "sms": {
                    "accountSidFrom": ref,
                    "authTokenFrom": ref,
                    "from": "+15005550006",
                    "to": ["+15551234567"],
                }
            },
            {"accountSid": "AC1", "authToken": "t"},
            TwilioSmsNotifier,
        ),
    ]
    for kind, secrets, expected in cases:
        channel = Channel.model_validate({"name": "c", **kind})
        assert isinstance(build_notifier(channel, secrets, deps()), expected)


def test_webhook_merges_plain_and_secret_headers_and_resolves_a_referenced_url() -> None:
    channel = Channel.model_validate(
        {
            "name": "hook",
            "webhook": {
                "urlFrom": {"env": "HOOK_URL"},
                "secretFrom": {"env": "HOOK_KEY"},
                "headers": {"X-Team": "payments"},
                "headersFrom": {"Authorization": {"env": "HOOK_AUTH"}},
            },
        }
    )
    secrets = {"url": "https://h.test/in", "secret": "k", "header:Authorization": "Bearer z"}
    notifier = build_notifier(channel, secrets, deps())
    assert isinstance(notifier, WebhookNotifier)
    event = Event(type=EventType.FAILED, message="m", at=0)
    headers = notifier.request_headers("shop", event, b"{}")
    assert headers["Authorization"] == "Bearer z"
    assert headers["X-Team"] == "payments"
    assert headers["X-Serinus-Timestamp"] == "100"
