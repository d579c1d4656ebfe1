"""The `notifications` section of a Rollout: channels, per-rollout subscriptions, secret refs.

A rollout names its channels (Slack, e-mail, SMS, generic webhook, Microsoft Teams) and says which
events go to which channel. Secrets (webhook URLs, SMTP passwords, Twilio tokens, HMAC keys) are
never written inline: a field ending in `From` holds a reference, `{env: NAME}` or
`{secretKeyRef: {name, key}}`, that a secret resolver turns into the value at delivery time, so
the spec, the API output and the dashboard never carry a secret.

`channels_for` is the pure subscription filter: which channels receive an event.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from serinus.core.events import Event, EventType
from serinus.core.spec_base import (
    DNS_LABEL,
    HEADER_NAME,
    HTTP_URL,
    MAX_MAP,
    MAX_URL,
    SINGLE_LINE,
    HeaderMap,
    PositiveDuration,
    SpecModel,
    _exactly_one,
    duplicated,
    keys_matching,
)

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# A Kubernetes Secret data key: alphanumerics, '-', '_' and '.'.
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
E164 = r"^\+[1-9][0-9]{1,14}$"
TWILIO_MESSAGING_SERVICE = r"^MG[0-9a-fA-F]{32}$"
# Deliberately loose: the SMTP server is the judge of addresses; this catches typos like a
# missing '@' or a list written as one comma-separated string.
EMAIL_ADDRESS = r"^[^@\s,;<>]+@[^@\s,;<>]+$"
# Header names serinus sets itself on webhook posts; users cannot override them.
RESERVED_WEBHOOK_HEADERS = frozenset(
    {"content-type", "content-length", "x-serinus-signature", "x-serinus-timestamp"}
)
ALL_EVENTS: Literal["*"] = "*"
# An SMTP relay: a host name or an IPv4/IPv6 address.
HOST = r"^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$"  # noqa: E501


class SecretKeyRef(SpecModel):
    """A key of a Kubernetes Secret in the rollout's namespace (resolved by the operator)."""

    name: str = Field(pattern=DNS_LABEL, max_length=253)
    key: str = Field(pattern=SECRET_KEY, max_length=253)


class SecretRef(SpecModel):
    """Where a secret value comes from: an environment variable or a Kubernetes Secret key."""

    env: str | None = Field(default=None, pattern=ENV_NAME, max_length=253)
    secret_key_ref: SecretKeyRef | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        _exactly_one(self, "secret reference")
        return self

    def describe(self) -> str:
        """A safe, value-free description for error messages: `env SLACK_URL`."""
        if self.env is not None:
            return f"env {self.env}"
        assert self.secret_key_ref is not None
        return f"secret {self.secret_key_ref.name}/{self.secret_key_ref.key}"


def _reject_inline_secrets(data: Any, fields: dict[str, str]) -> Any:
    """Give inline secret fields (`webhookUrl: https://...`) an error that says what to write."""
    if isinstance(data, dict):
        for inline, reference in fields.items():
            if inline in data:
                raise ValueError(
                    f"{inline}: secrets are not written inline; use "
                    f"{reference}: {{env: NAME}} or {reference}: {{secretKeyRef: {{name, key}}}}"
                )
    return data


class SlackChannel(SpecModel):
    """A Slack incoming webhook; its URL is a secret (anyone holding it can post)."""

    webhook_url_from: SecretRef
    channel: str | None = Field(default=None, min_length=1, max_length=80, pattern=SINGLE_LINE)
    username: str | None = Field(default=None, min_length=1, max_length=80, pattern=SINGLE_LINE)

    @model_validator(mode="before")
    @classmethod
    def _no_inline_url(cls, data: Any) -> Any:
        return _reject_inline_secrets(data, {"webhookUrl": "webhookUrlFrom"})

    def secret_refs(self) -> dict[str, SecretRef]:
        return {"webhookUrl": self.webhook_url_from}


class EmailChannel(SpecModel):
    """An SMTP relay; credentials are only sent after STARTTLS."""

    host: str = Field(min_length=1, max_length=253, pattern=HOST)
    port: int = Field(default=587, ge=1, le=65535, strict=True)
    starttls: bool = True
    username_from: SecretRef | None = None
    password_from: SecretRef | None = None
    sender: str = Field(alias="from", pattern=EMAIL_ADDRESS, max_length=254)
    to: list[Annotated[str, Field(pattern=EMAIL_ADDRESS, max_length=254)]] = Field(
        min_length=1, max_length=100
    )
    timeout_seconds: PositiveDuration = 10.0

    @model_validator(mode="before")
    @classmethod
    def _no_inline_credentials(cls, data: Any) -> Any:
        return _reject_inline_secrets(
            data, {"username": "usernameFrom", "password": "passwordFrom"}
        )

    @model_validator(mode="after")
    def _credentials_need_tls(self) -> EmailChannel:
        if (self.username_from is None) != (self.password_from is None):
            raise ValueError("usernameFrom and passwordFrom go together: set both or neither")
        if self.password_from is not None and not self.starttls:
            raise ValueError("passwordFrom needs starttls: true (credentials never go in clear)")
        return self

    def secret_refs(self) -> dict[str, SecretRef]:
        refs: dict[str, SecretRef] = {}
        if self.username_from is not None:
            refs["username"] = self.username_from
        if self.password_from is not None:
            refs["password"] = self.password_from
        return refs


class SmsChannel(SpecModel):
    """SMS through Twilio's Messages API; `baseUrl` points elsewhere for tests or proxies."""

    provider: Literal["twilio"] = "twilio"
    base_url: str = Field(default="https://api.twilio.com", pattern=HTTP_URL, max_length=MAX_URL)
    account_sid_from: SecretRef
    auth_token_from: SecretRef
    sender: str = Field(
        alias="from",
        pattern=f"{E164}|{TWILIO_MESSAGING_SERVICE}",
        description="An E.164 phone number (+15551234567) or a Messaging Service SID (MG...).",
    )
    to: list[Annotated[str, Field(pattern=E164)]] = Field(min_length=1, max_length=20)

    @model_validator(mode="before")
    @classmethod
    def _no_inline_credentials(cls, data: Any) -> Any:
        return _reject_inline_secrets(
            data, {"accountSid": "accountSidFrom", "authToken": "authTokenFrom"}
        )

    def secret_refs(self) -> dict[str, SecretRef]:
        return {"accountSid": self.account_sid_from, "authToken": self.auth_token_from}


SecretHeaders = Annotated[dict[str, SecretRef], keys_matching(HEADER_NAME, "a header name")]


class WebhookChannel(SpecModel):
    """A generic JSON POST signed with HMAC-SHA256 (see adapters/notifiers/webhook.py).

    `url` may be written inline when it carries no credential; a URL with a token in it belongs
    in `urlFrom`, since the spec is shown by the API and the dashboard.
    """

    url: str | None = Field(default=None, pattern=HTTP_URL, max_length=MAX_URL)
    url_from: SecretRef | None = None
    secret_from: SecretRef
    headers: HeaderMap = Field(default_factory=dict)
    headers_from: Annotated[dict[str, SecretRef], keys_matching(HEADER_NAME, "a header name")] = (
        Field(
            default_factory=dict,
            max_length=MAX_MAP,
            description="Headers whose values are secrets (e.g. Authorization).",
        )
    )

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secret(cls, data: Any) -> Any:
        return _reject_inline_secrets(data, {"secret": "secretFrom"})

    @model_validator(mode="after")
    def _one_url_and_free_headers(self) -> WebhookChannel:
        if (self.url is None) == (self.url_from is None):
            raise ValueError("webhook needs exactly one of: url, urlFrom")
        names = [*self.headers, *self.headers_from]
        for name in names:
            if name.lower() in RESERVED_WEBHOOK_HEADERS:
                raise ValueError(f"headers: {name} is set by serinus and cannot be overridden")
        lowered = [name.lower() for name in names]
        if twice := duplicated(lowered):
            raise ValueError(f"headers: {', '.join(twice)} set more than once")
        return self

    def secret_refs(self) -> dict[str, SecretRef]:
        refs = {"secret": self.secret_from}
        if self.url_from is not None:
            refs["url"] = self.url_from
        refs.update({f"header:{name}": ref for name, ref in self.headers_from.items()})
        return refs


class TeamsChannel(SpecModel):
    """A Microsoft Teams incoming webhook (Workflows or legacy connector); its URL is a secret."""

    webhook_url_from: SecretRef

    @model_validator(mode="before")
    @classmethod
    def _no_inline_url(cls, data: Any) -> Any:
        return _reject_inline_secrets(data, {"webhookUrl": "webhookUrlFrom"})

    def secret_refs(self) -> dict[str, SecretRef]:
        return {"webhookUrl": self.webhook_url_from}


CHANNEL_KINDS = ("slack", "email", "sms", "webhook", "teams")
ChannelKind = SlackChannel | EmailChannel | SmsChannel | WebhookChannel | TeamsChannel


class Channel(SpecModel):
    """A named destination: exactly one of slack, email, sms, webhook, teams."""

    name: str = Field(pattern=DNS_LABEL, max_length=63)
    slack: SlackChannel | None = None
    email: EmailChannel | None = None
    sms: SmsChannel | None = None
    webhook: WebhookChannel | None = None
    teams: TeamsChannel | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Channel:
        chosen = [kind for kind in CHANNEL_KINDS if getattr(self, kind) is not None]
        if len(chosen) != 1:
            raise ValueError(
                f"channel needs exactly one of: {', '.join(CHANNEL_KINDS)} (got {len(chosen)})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in CHANNEL_KINDS if getattr(self, kind) is not None)

    @property
    def settings(self) -> ChannelKind:
        chosen: ChannelKind = getattr(self, self.kind)
        return chosen

    def secret_refs(self) -> dict[str, SecretRef]:
        """Every secret this channel needs, keyed by the role the notifier gives it."""
        return self.settings.secret_refs()


def _known_event(value: Any) -> Any:
    """One clear error for a misspelt event instead of one per member of the union."""
    known = {event.value for event in EventType}
    if not isinstance(value, str) or (value != ALL_EVENTS and value not in known):
        names = ", ".join(event.value for event in EventType)
        raise ValueError(f"unknown event {str(value)[:40]!r}: use '*' or one of {names}")
    return value


EventSelector = Annotated[EventType | Literal["*"], BeforeValidator(_known_event)]


def _all_events() -> list[EventType | Literal["*"]]:
    return [ALL_EVENTS]


class Subscription(SpecModel):
    """Send these events (EventType names, or "*" for all) to a channel."""

    channel: str = Field(pattern=DNS_LABEL, max_length=63)
    events: list[EventSelector] = Field(default_factory=_all_events, min_length=1, max_length=100)

    def wants(self, event_type: EventType) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events


class Notifications(SpecModel):
    """The `notifications` section of a RolloutSpec."""

    channels: list[Channel] = Field(default_factory=list, max_length=50)
    subscriptions: list[Subscription] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _consistent_names(self) -> Notifications:
        names = [channel.name for channel in self.channels]
        if twice := duplicated(names):
            raise ValueError(f"channels: name {', '.join(twice)} is used more than once")
        for index, subscription in enumerate(self.subscriptions):
            if subscription.channel not in names:
                known = ", ".join(names) or "none defined"
                raise ValueError(
                    f"subscriptions[{index}].channel: no channel named {subscription.channel!r} "
                    f"(channels: {known})"
                )
        return self

    def channel(self, name: str) -> Channel | None:
        return next((channel for channel in self.channels if channel.name == name), None)


def channels_for(notifications: Notifications | None, event: Event) -> list[Channel]:
    """The channels subscribed to an event, each once, in the order they are defined."""
    if notifications is None:
        return []
    wanted = {sub.channel for sub in notifications.subscriptions if sub.wants(event.type)}
    return [channel for channel in notifications.channels if channel.name in wanted]
