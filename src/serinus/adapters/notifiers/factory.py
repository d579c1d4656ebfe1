"""Builds the notifier for a channel from its spec and its resolved secrets (keyed by kind).

A new channel kind is one builder in `BUILDERS`; the dispatcher never branches on kinds.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from serinus.adapters.egress import EgressGuard
from serinus.adapters.notifiers.rendering import MessageRenderer
from serinus.adapters.notifiers.slack import SlackNotifier
from serinus.adapters.notifiers.smtp import SmtpNotifier
from serinus.adapters.notifiers.teams import TeamsNotifier
from serinus.adapters.notifiers.twilio import TwilioSmsNotifier
from serinus.adapters.notifiers.webhook import WebhookNotifier
from serinus.core.notification_spec import (
    Channel,
    EmailChannel,
    SlackChannel,
    SmsChannel,
    TeamsChannel,
    WebhookChannel,
)
from serinus.core.ports import Notifier


@dataclass(frozen=True)
class NotifierDeps:
    """What notifiers share: the HTTP client, the templates, SMTP TLS trust, the clock, and the
    egress guard (the HTTP client's transport applies it; SMTP checks its host with it)."""

    http: httpx.AsyncClient
    renderer: MessageRenderer
    smtp_tls_context: ssl.SSLContext | None = None
    clock: Callable[[], float] = field(default=time.time)
    egress: EgressGuard | None = None


Secrets = Mapping[str, str]


def _slack(channel: Channel, secrets: Secrets, deps: NotifierDeps) -> Notifier:
    spec = channel.slack
    assert isinstance(spec, SlackChannel)
    return SlackNotifier(
        webhook_url=secrets["webhookUrl"],
        http=deps.http,
        renderer=deps.renderer,
        channel=spec.channel,
        username=spec.username,
    )


def _email(channel: Channel, secrets: Secrets, deps: NotifierDeps) -> Notifier:
    spec = channel.email
    assert isinstance(spec, EmailChannel)
    return SmtpNotifier(
        host=spec.host,
        port=spec.port,
        sender=spec.sender,
        recipients=list(spec.to),
        renderer=deps.renderer,
        starttls=spec.starttls,
        username=secrets.get("username"),
        password=secrets.get("password"),
        timeout=spec.timeout_seconds,
        tls_context=deps.smtp_tls_context,
        egress=deps.egress,
    )


def _sms(channel: Channel, secrets: Secrets, deps: NotifierDeps) -> Notifier:
    spec = channel.sms
    assert isinstance(spec, SmsChannel)
    return TwilioSmsNotifier(
        base_url=spec.base_url,
        account_sid=secrets["accountSid"],
        auth_token=secrets["authToken"],
        sender=spec.sender,
        recipients=list(spec.to),
        http=deps.http,
        renderer=deps.renderer,
    )


def _webhook(channel: Channel, secrets: Secrets, deps: NotifierDeps) -> Notifier:
    spec = channel.webhook
    assert isinstance(spec, WebhookChannel)
    url = spec.url if spec.url is not None else secrets["url"]
    headers = dict(spec.headers)
    headers.update({name: secrets[f"header:{name}"] for name in spec.headers_from})
    return WebhookNotifier(
        url=url, secret=secrets["secret"], http=deps.http, headers=headers, clock=deps.clock
    )


def _teams(channel: Channel, secrets: Secrets, deps: NotifierDeps) -> Notifier:
    assert isinstance(channel.teams, TeamsChannel)
    return TeamsNotifier(webhook_url=secrets["webhookUrl"], http=deps.http, renderer=deps.renderer)


BUILDERS: dict[str, Callable[[Channel, Secrets, NotifierDeps], Notifier]] = {
    "slack": _slack,
    "email": _email,
    "sms": _sms,
    "webhook": _webhook,
    "teams": _teams,
}


def build_notifier(channel: Channel, secrets: Secrets, deps: NotifierDeps) -> Notifier:
    """`secrets` holds the resolved values of `channel.secret_refs()`, under the same keys."""
    return BUILDERS[channel.kind](channel, secrets, deps)
