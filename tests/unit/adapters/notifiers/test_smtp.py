"""The e-mail message (headers, text and HTML parts) and the SMTP failure classification."""

from __future__ import annotations

import aiosmtplib
import pytest

from serinus.adapters.notifiers.rendering import MessageRenderer
from serinus.adapters.notifiers.smtp import SmtpNotifier, _smtp_error
from serinus.core.events import Event, EventType


def smtp() -> SmtpNotifier:
    return SmtpNotifier(
        host="smtp.test",
        port=587,
        sender="serinus@example.com",
        recipients=["a@example.com", "b@example.com"],
        renderer=MessageRenderer(),
    )


def test_message_has_one_line_subject_addresses_and_both_parts() -> None:
    event = Event(
        type=EventType.AWAITING_JUDGEMENT,
        message="look at <Grafana>\nthen decide",
        at=1_700_000_000.0,
    )
    message = smtp().message("shop", event, "https://dash/rollouts/shop")
    assert message["Subject"] == "[serinus] shop: Awaiting judgement"
    assert message["From"] == "serinus@example.com"
    assert message["To"] == "a@example.com, b@example.com"
    assert message["Date"] == "Tue, 14 Nov 2023 22:13:20 +0000"
    assert message["Message-ID"].endswith("@example.com>")
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "look at <Grafana>\nthen decide" in text.get_content()
    assert "https://dash/rollouts/shop" in text.get_content()
    assert "look at &lt;Grafana&gt;" in html.get_content()
    assert '<a href="https://dash/rollouts/shop">' in html.get_content()


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), False),
        (aiosmtplib.SMTPResponseException(451, "try later"), True),
        (aiosmtplib.SMTPResponseException(554, "rejected"), False),
        (aiosmtplib.SMTPNotSupported("AUTH not supported"), False),
        (aiosmtplib.SMTPException("SMTP STARTTLS extension not supported by server."), False),
        (aiosmtplib.SMTPServerDisconnected("gone"), True),
        (aiosmtplib.SMTPConnectTimeoutError("timed out"), True),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", "x@y")]),
            False,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "busy", "x@y")]),
            True,
        ),
    ],
)
def test_smtp_failures_are_classified(error: aiosmtplib.SMTPException, retryable: bool) -> None:
    converted = _smtp_error(error, "smtp h:25")
    assert converted.retryable is retryable
    assert str(converted).startswith("smtp h:25: ")
