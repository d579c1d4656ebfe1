"""Slack, Twilio, Teams and the signed webhook posting to a real local HTTP server, and the
dispatcher delivering one rollout's events to every kind of channel through real receivers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from serinus.adapters.notifiers.rendering import MessageRenderer
from serinus.adapters.notifiers.slack import SEVERITY_COLORS, SlackNotifier
from serinus.adapters.notifiers.teams import TeamsNotifier
from serinus.adapters.notifiers.twilio import TwilioSmsNotifier
from serinus.adapters.notifiers.webhook import WebhookNotifier, verify_signature
from serinus.app.notifications import EnvSecretResolver, NotificationDispatcher, RetryPolicy
from serinus.core.errors import NotifierError
from serinus.core.events import Event, EventType, Severity
from serinus.core.notification_spec import Notifications

from .conftest import HttpReceiver, TestCertificate

pytestmark = pytest.mark.integration

LINK = "https://dash.example/rollouts/shop"
JUDGED = Event(
    type=EventType.JUDGED,
    message="rejected by ana: error budget burnt",
    at=1_700_000_000.25,
    data={"approved": False, "user": "ana", "inputs": {"ticket": "OPS-7"}},
)


async def test_slack_receives_block_kit_coloured_by_severity(http_receiver: HttpReceiver) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        slack = SlackNotifier(
            webhook_url=http_receiver.url("/services/T1/B2/tok"),
            http=http,
            renderer=MessageRenderer(),
            channel="#deploys",
        )
        await slack.send("shop", JUDGED, LINK)
    [request] = http_receiver.requests
    assert request.path == "/services/T1/B2/tok"
    assert request.headers["content-type"] == "application/json"
    payload = json.loads(request.body)
    assert payload["channel"] == "#deploys"
    attachment = payload["attachments"][0]
    assert attachment["color"] == SEVERITY_COLORS[Severity.ERROR]
    section, _, actions = attachment["blocks"]
    assert "*Judged*" in section["text"]["text"]
    assert "rejected by ana: error budget burnt" in section["text"]["text"]
    assert actions["elements"][0]["url"] == LINK


async def test_slack_error_answers_become_classified_failures(http_receiver: HttpReceiver) -> None:
    http_receiver.answers["/gone"] = [(404, "no_service")]
    http_receiver.answers["/busy"] = [(503, "try later")]
    async with httpx.AsyncClient(timeout=5) as http:
        renderer = MessageRenderer()
        gone = SlackNotifier(webhook_url=http_receiver.url("/gone"), http=http, renderer=renderer)
        busy = SlackNotifier(webhook_url=http_receiver.url("/busy"), http=http, renderer=renderer)
        with pytest.raises(NotifierError, match="HTTP 404: no_service") as permanent:
            await gone.send("shop", JUDGED)
        with pytest.raises(NotifierError, match="HTTP 503: the server failed") as transient:
            await busy.send("shop", JUDGED)
    assert not permanent.value.retryable
    assert transient.value.retryable


async def test_twilio_receives_one_form_post_per_recipient_with_basic_auth(
    http_receiver: HttpReceiver,
) -> None:
    path = "/2010-04-01/Accounts/AC0123/Messages.json"
    http_receiver.answers[path] = [(201, '{"sid": "SM1"}')]
    async with httpx.AsyncClient(timeout=5) as http:
        sms = TwilioSmsNotifier(
            base_url=http_receiver.url(""),
            account_sid="AC0123",
            auth_token="twilio-token",
            sender="+15005550006",
            recipients=["+15551110001", "+15551110002"],
            http=http,
            renderer=MessageRenderer(),
        )
        await sms.send("shop", JUDGED, LINK)
    assert [r.path for r in http_receiver.requests] == [path, path]
    credentials = base64.b64encode(b"AC0123:twilio-token").decode()
    forms = []
    for request in http_receiver.requests:
        assert request.headers["authorization"] == f"Basic {credentials}"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        forms.append(parse_qs(request.body.decode()))
    assert [form["To"] for form in forms] == [["+15551110001"], ["+15551110002"]]
    assert forms[0]["From"] == ["+15005550006"]
    assert forms[0]["Body"] == [f"serinus shop: Judged. rejected by ana: error budget burnt {LINK}"]


async def test_webhook_posts_json_whose_hmac_the_receiver_can_verify(
    http_receiver: HttpReceiver,
) -> None:
    key = "shared-hmac-key"
    async with httpx.AsyncClient(timeout=5) as http:
        hook = WebhookNotifier(
            url=http_receiver.url("/hooks/serinus"),
            secret=key,
            http=http,
            headers={"X-Team": "payments"},
        )
        await hook.send("shop", JUDGED, LINK)
    [request] = http_receiver.requests
    timestamp = request.headers["x-serinus-timestamp"]
    # The receiver's side of the scheme, computed independently of serinus' code.
    expected = hmac.new(key.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["x-serinus-signature"] == f"sha256={expected.hexdigest()}"
    assert abs(int(timestamp) - time.time()) < 300
    assert verify_signature(
        key, request.body, timestamp, request.headers["x-serinus-signature"], now=time.time()
    )
    assert not verify_signature(
        "other-key",
        request.body,
        timestamp,
        request.headers["x-serinus-signature"],
        now=time.time(),
    )
    assert request.headers["x-team"] == "payments"
    assert request.headers["x-serinus-event"] == "Judged"
    assert json.loads(request.body) == {
        "rollout": "shop",
        "event": {
            "type": "Judged",
            "message": "rejected by ana: error budget burnt",
            "at": 1_700_000_000.25,
            "severity": "error",
            "data": {"approved": False, "user": "ana", "inputs": {"ticket": "OPS-7"}},
        },
        "link": LINK,
    }


async def test_teams_receives_an_adaptive_card(http_receiver: HttpReceiver) -> None:
    http_receiver.answers["/teams"] = [(202, "")]
    async with httpx.AsyncClient(timeout=5) as http:
        teams = TeamsNotifier(
            webhook_url=http_receiver.url("/teams"), http=http, renderer=MessageRenderer()
        )
        await teams.send("shop", JUDGED, LINK)
    card = json.loads(http_receiver.requests[0].body)["attachments"][0]["content"]
    assert card["body"][0]["text"] == "shop: Judged"
    assert card["actions"][0]["url"] == LINK


async def test_dispatcher_delivers_a_rollout_to_every_channel_kind_without_leaking_secrets(
    http_receiver: HttpReceiver,
    smtp_server: Callable[..., Any],
    certificate: TestCertificate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    smtp = await smtp_server(certificate.server_context(), ("mailer", "smtp-password-9"))
    twilio_path = "/2010-04-01/Accounts/AC77/Messages.json"
    http_receiver.answers[twilio_path] = [(201, "{}")]
    # Slack's first answer is an outage: the dispatcher retries it.
    http_receiver.answers["/services/T9/B9/slack-secret-token"] = [(500, "oops"), (200, "ok")]
    environment = {
        "SLACK_URL": http_receiver.url("/services/T9/B9/slack-secret-token"),
        "TEAMS_URL": http_receiver.url("/teams/teams-secret-token"),
        "HOOK_KEY": "hook-secret-key",
        "SMTP_USER": "mailer",
        "SMTP_PASSWORD": "smtp-password-9",
        "TWILIO_SID": "AC77",
        "TWILIO_TOKEN": "twilio-secret-token",
    }
    notifications = Notifications.model_validate(
        {
            "channels": [
                {"name": "ops", "slack": {"webhookUrlFrom": {"env": "SLACK_URL"}}},
                {"name": "teams", "teams": {"webhookUrlFrom": {"env": "TEAMS_URL"}}},
                {
                    "name": "hook",
                    "webhook": {
                        "url": http_receiver.url("/hook"),
                        "secretFrom": {"env": "HOOK_KEY"},
                    },
                },
                {
                    "name": "mail",
                    "email": {
                        "host": "127.0.0.1",
                        "port": smtp.port,
                        "usernameFrom": {"env": "SMTP_USER"},
                        "passwordFrom": {"env": "SMTP_PASSWORD"},
                        "from": "serinus@example.com",
                        "to": ["oncall@example.com"],
                    },
                },
                {
                    "name": "pager",
                    "sms": {
                        "baseUrl": http_receiver.url(""),
                        "accountSidFrom": {"env": "TWILIO_SID"},
                        "authTokenFrom": {"env": "TWILIO_TOKEN"},
                        "from": "+15005550006",
                        "to": ["+15551110001"],
                    },
                },
            ],
            "subscriptions": [
                {"channel": "ops", "events": ["*"]},
                {"channel": "teams", "events": ["Completed"]},
                {"channel": "hook", "events": ["*"]},
                {"channel": "mail", "events": ["AwaitingJudgement"]},
                {"channel": "pager", "events": ["Failed", "Aborted"]},
            ],
        }
    )
    dispatcher = NotificationDispatcher(
        EnvSecretResolver(environment),
        link_for=lambda namespace, name: f"https://dash.example/{namespace}/{name}",
        retry=RetryPolicy(max_attempts=3, first_delay=0.01, max_delay=0.02),
        smtp_tls_context=certificate.client_context(),
    )
    events = [
        Event(type=EventType.ROLLOUT_STARTED, message="v2 started", at=1.0),
        Event(type=EventType.AWAITING_JUDGEMENT, message="approve?", at=2.0),
        Event(type=EventType.ABORTED, message="aborted by bob", at=3.0),
    ]
    try:
        dispatcher.publish("shop", events, notifications, namespace="payments")
        await dispatcher.close(timeout=10)
    finally:
        await dispatcher.close(timeout=0)
    assert dispatcher.failures() == []
    # ops: 3 events (+1 retried post); hook: 3; mail: 1; pager: 1; teams: none (no Completed).
    assert dispatcher.delivered == 8
    paths = [request.path for request in http_receiver.requests]
    assert paths.count("/services/T9/B9/slack-secret-token") == 4
    assert paths.count("/hook") == 3
    assert paths.count(twilio_path) == 1
    assert "/teams/teams-secret-token" not in paths
    slack_texts = [
        json.loads(r.body)["text"] for r in http_receiver.requests if r.path.startswith("/services")
    ]
    assert [text.split(":")[1].strip() for text in slack_texts[1:]] == [
        "RolloutStarted",
        "AwaitingJudgement",
        "Aborted",
    ]
    hook_links = {json.loads(r.body)["link"] for r in http_receiver.requests if r.path == "/hook"}
    assert hook_links == {"https://dash.example/payments/shop"}
    [mail] = smtp.mails
    assert mail.tls and mail.login == b"mailer"
    assert b"Subject: [serinus] shop: Awaiting judgement" in mail.content
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    log_text = "\n".join(record.getMessage() for record in ours)
    assert "retrying" in log_text
    for secret in (
        "slack-secret-token",
        "smtp-password-9",
        "twilio-secret-token",
        "hook-secret-key",
    ):
        assert secret not in log_text
