"""The notifications section: channels, secret references, subscriptions and the event filter."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serinus.core.documents import validate_model
from serinus.core.errors import InvalidInput
from serinus.core.events import Event, EventType
from serinus.core.notification_spec import (
    Notifications,
    SecretRef,
    channels_for,
)

SLACK = {"name": "ops", "slack": {"webhookUrlFrom": {"env": "SLACK_URL"}, "channel": "#deploys"}}
EMAIL = {
    "name": "oncall-mail",
    "email": {
        "host": "smtp.example.com",
        "usernameFrom": {"env": "SMTP_USER"},
        "passwordFrom": {"secretKeyRef": {"name": "smtp", "key": "password"}},
        "from": "serinus@example.com",
        "to": ["oncall@example.com", "lead@example.com"],
    },
}
SMS = {
    "name": "pager",
    "sms": {
        "accountSidFrom": {"env": "TWILIO_SID"},
        "authTokenFrom": {"env": "TWILIO_TOKEN"},
        "from": "+15005550006",
        "to": ["+15551234567"],
    },
}
WEBHOOK = {
    "name": "audit-hook",
    "webhook": {
        "url": "https://hooks.example.com/serinus",
        "secretFrom": {"env": "HOOK_KEY"},
        "headers": {"X-Team": "payments"},
        "headersFrom": {"Authorization": {"env": "HOOK_AUTH"}},
    },
}
TEAMS = {"name": "teams", "teams": {"webhookUrlFrom": {"env": "TEAMS_URL"}}}


def parse(data: dict[str, Any]) -> Notifications:
    return validate_model(Notifications, data, "rollout", root="spec.notifications")


def problems_of(data: dict[str, Any]) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse(data)
    return "\n".join(caught.value.problems)


def event(event_type: EventType) -> Event:
    return Event(type=event_type, message="m", at=0.0)


def test_every_channel_kind_parses_and_round_trips_by_alias() -> None:
    data = {
        "channels": [SLACK, EMAIL, SMS, WEBHOOK, TEAMS],
        "subscriptions": [
            {"channel": "ops", "events": ["*"]},
            {"channel": "pager", "events": ["Failed", "Aborted"]},
        ],
    }
    notifications = parse(data)
    assert [channel.kind for channel in notifications.channels] == [
        "slack",
        "email",
        "sms",
        "webhook",
        "teams",
    ]
    dumped = notifications.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["channels"][1]["email"]["from"] == "serinus@example.com"
    assert parse(dumped) == notifications


def test_defaults_are_the_safe_ones() -> None:
    notifications = parse(
        {"channels": [{"name": "m", "email": {"host": "h", "from": "a@b.c", "to": ["d@e.f"]}}]}
    )
    email = notifications.channels[0].email
    assert email is not None
    assert (email.port, email.starttls) == (587, True)
    sms = parse({"channels": [SMS]}).channels[0].sms
    assert sms is not None
    assert sms.base_url == "https://api.twilio.com"


@pytest.mark.parametrize(
    ("channel", "inline", "reference"),
    [
        (
            {"name": "s", "slack": {"webhookUrl": "https://hooks.slack.com/x"}},
            "webhookUrl",
            "webhookUrlFrom",
        ),
        (
            {"name": "t", "teams": {"webhookUrl": "https://x.webhook.office.com/y"}},
            "webhookUrl",
            "webhookUrlFrom",
        ),
        (
            {
                "name": "m",
                "email": {"host": "h", "from": "a@b", "to": ["c@d"], "password": "hunter2"},
            },
            "password",
            "passwordFrom",
        ),
        (
            {"name": "p", "sms": {**SMS["sms"], "authToken": "tok"}},  # type: ignore[dict-item]
            "authToken",
            "authTokenFrom",
        ),
        (
            {"name": "w", "webhook": {"url": "https://h", "secret": "k"}},
            "secret",
            "secretFrom",
        ),
    ],
)
def test_inline_secrets_are_refused_with_the_field_to_use(
    channel: dict[str, Any], inline: str, reference: str
) -> None:
    message = problems_of({"channels": [channel]})
    assert f"{inline}: secrets are not written inline" in message
    assert f"{reference}: {{env: NAME}}" in message
    assert message.startswith("spec.notifications.channels[0].")


def test_secret_reference_needs_exactly_one_source() -> None:
    assert "exactly one of" in problems_of(
        {"channels": [{"name": "s", "slack": {"webhookUrlFrom": {}}}]}
    )
    both = {"env": "A", "secretKeyRef": {"name": "s", "key": "k"}}
    assert "exactly one of" in problems_of(
        {"channels": [{"name": "s", "slack": {"webhookUrlFrom": both}}]}
    )
    assert "webhookUrlFrom.env" in problems_of(
        {"channels": [{"name": "s", "slack": {"webhookUrlFrom": {"env": "1-bad name"}}}]}
    )


def test_secret_reference_describes_itself_without_a_value() -> None:
    assert SecretRef(env="SLACK_URL").describe() == "env SLACK_URL"
    ref = SecretRef.model_validate({"secretKeyRef": {"name": "smtp", "key": "password"}})
    assert ref.describe() == "secret smtp/password"


def test_channel_needs_exactly_one_kind() -> None:
    assert "channel needs exactly one of: slack, email, sms, webhook, teams (got 0)" in problems_of(
        {"channels": [{"name": "nothing"}]}
    )
    two = {**SLACK, "teams": TEAMS["teams"]}
    assert "(got 2)" in problems_of({"channels": [two]})


def test_channel_names_are_unique_and_subscriptions_name_a_channel() -> None:
    assert "name ops is used more than once" in problems_of({"channels": [SLACK, SLACK]})
    message = problems_of({"channels": [SLACK], "subscriptions": [{"channel": "opz"}]})
    assert "subscriptions[0].channel: no channel named 'opz' (channels: ops)" in message


def test_unknown_event_name_gets_one_error_listing_the_valid_names() -> None:
    message = problems_of(
        {"channels": [SLACK], "subscriptions": [{"channel": "ops", "events": ["Failed", "Faild"]}]}
    )
    assert message.count("\n") == 0
    assert "spec.notifications.subscriptions[0].events[1]: unknown event 'Faild'" in message
    assert "AwaitingJudgement" in message


def test_email_credentials_come_in_pairs_and_only_over_starttls() -> None:
    base = {"host": "h", "from": "a@b", "to": ["c@d"]}
    alone = {**base, "usernameFrom": {"env": "U"}}
    assert "set both or neither" in problems_of({"channels": [{"name": "m", "email": alone}]})
    clear = {**base, "usernameFrom": {"env": "U"}, "passwordFrom": {"env": "P"}, "starttls": False}
    assert "passwordFrom needs starttls: true" in problems_of(
        {"channels": [{"name": "m", "email": clear}]}
    )
    assert "email.to[0]" in problems_of(
        {"channels": [{"name": "m", "email": {**base, "to": ["a, b@c"]}}]}
    )


def test_sms_numbers_are_e164_or_a_messaging_service() -> None:
    bad = {**SMS["sms"], "to": ["555-1234"]}  # type: ignore[dict-item]
    assert "sms.to[0]" in problems_of({"channels": [{"name": "p", "sms": bad}]})
    service = {**SMS["sms"], "from": "MG" + "0" * 32}  # type: ignore[dict-item]
    assert parse({"channels": [{"name": "p", "sms": service}]}).channels[0].sms is not None


def test_webhook_url_is_inline_xor_referenced_and_signature_headers_are_reserved() -> None:
    hook = WEBHOOK["webhook"]
    both = {**hook, "urlFrom": {"env": "U"}}  # type: ignore[dict-item]
    assert "exactly one of: url, urlFrom" in problems_of(
        {"channels": [{"name": "w", "webhook": both}]}
    )
    neither = {k: v for k, v in hook.items() if k != "url"}  # type: ignore[union-attr]
    assert "exactly one of: url, urlFrom" in problems_of(
        {"channels": [{"name": "w", "webhook": neither}]}
    )
    forged = {**hook, "headers": {"x-serinus-signature": "sha256=0"}}  # type: ignore[dict-item]
    assert "set by serinus" in problems_of({"channels": [{"name": "w", "webhook": forged}]})
    twice = {**hook, "headers": {"Authorization": "a"}}  # type: ignore[dict-item]
    assert "authorization set more than once" in problems_of(
        {"channels": [{"name": "w", "webhook": twice}]}
    )


def test_secret_refs_name_every_secret_by_role() -> None:
    notifications = parse({"channels": [SLACK, EMAIL, SMS, WEBHOOK, TEAMS]})
    roles = {channel.name: sorted(channel.secret_refs()) for channel in notifications.channels}
    assert roles == {
        "ops": ["webhookUrl"],
        "oncall-mail": ["password", "username"],
        "pager": ["accountSid", "authToken"],
        "audit-hook": ["header:Authorization", "secret"],
        "teams": ["webhookUrl"],
    }


def test_filter_sends_each_event_to_its_subscribers_once_in_definition_order() -> None:
    notifications = parse(
        {
            "channels": [SLACK, EMAIL, SMS],
            "subscriptions": [
                {"channel": "pager", "events": ["Failed"]},
                {"channel": "ops", "events": ["*"]},
                {"channel": "oncall-mail", "events": ["AwaitingJudgement", "Failed"]},
                {"channel": "ops", "events": ["Failed"]},
            ],
        }
    )
    names = [c.name for c in channels_for(notifications, event(EventType.FAILED))]
    assert names == ["ops", "oncall-mail", "pager"]
    names = [c.name for c in channels_for(notifications, event(EventType.AWAITING_JUDGEMENT))]
    assert names == ["ops", "oncall-mail"]
    assert [c.name for c in channels_for(notifications, event(EventType.WEIGHTS_CHANGED))] == [
        "ops"
    ]


def test_no_notifications_or_no_subscriptions_means_no_channels() -> None:
    assert channels_for(None, event(EventType.FAILED)) == []
    assert channels_for(parse({"channels": [SLACK]}), event(EventType.FAILED)) == []


@given(
    subscribed=st.lists(
        st.lists(st.sampled_from([*EventType, "*"]), min_size=1, max_size=4), max_size=5
    ),
    happened=st.sampled_from(list(EventType)),
)
def test_filter_matches_exactly_the_channels_whose_subscriptions_want_the_event(
    subscribed: list[list[str]], happened: EventType
) -> None:
    channels = [{"name": f"c{i}", "teams": TEAMS["teams"]} for i in range(len(subscribed))]
    subscriptions = [{"channel": f"c{i}", "events": events} for i, events in enumerate(subscribed)]
    notifications = parse({"channels": channels, "subscriptions": subscriptions})
    expected = [
        f"c{i}" for i, events in enumerate(subscribed) if "*" in events or happened in events
    ]
    assert [c.name for c in channels_for(notifications, event(happened))] == expected
