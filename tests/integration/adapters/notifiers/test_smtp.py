"""E-mail to a real SMTP server (aiosmtpd): plain, STARTTLS with AUTH, and refusals."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from serinus.adapters.notifiers.rendering import MessageRenderer
from serinus.adapters.notifiers.smtp import SmtpNotifier
from serinus.core.errors import NotifierError
from serinus.core.events import Event, EventType

from .conftest import SmtpReceiver, TestCertificate

pytestmark = pytest.mark.integration

EVENT = Event(
    type=EventType.AWAITING_JUDGEMENT,
    message="Check the error rate on Grafana, then approve or reject.",
    at=1_700_000_000.0,
    data={"step": 2, "instructions": "<b>look</b>"},
)
LINK = "https://dash.example/rollouts/shop"
PASSWORD = "s3cret-smtp-pw"


def notifier(receiver: SmtpReceiver, **options: Any) -> SmtpNotifier:
    return SmtpNotifier(
        host="127.0.0.1",
        port=receiver.port,
        sender="serinus@example.com",
        recipients=["oncall@example.com", "lead@example.com"],
        renderer=MessageRenderer(),
        timeout=5.0,
        **options,
    )


def parse(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_the_server_receives_subject_text_and_html(smtp_server: Callable[..., Any]) -> None:
    receiver = await smtp_server()
    await notifier(receiver, starttls=False).send("shop", EVENT, LINK)
    [mail] = receiver.mails
    assert mail.sender == "serinus@example.com"
    assert mail.recipients == ["oncall@example.com", "lead@example.com"]
    message = parse(mail.content)
    assert message["Subject"] == "[serinus] shop: Awaiting judgement"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "Check the error rate on Grafana, then approve or reject." in text.get_content()
    assert f"Open the rollout: {LINK}" in text.get_content()
    assert "&lt;b&gt;look&lt;/b&gt;" in html.get_content()


async def test_starttls_then_auth(
    smtp_server: Callable[..., Any], certificate: TestCertificate
) -> None:
    receiver = await smtp_server(certificate.server_context(), ("serinus", PASSWORD))
    smtp = notifier(
        receiver,
        username="serinus",
        password=PASSWORD,
        tls_context=certificate.client_context(),
    )
    await smtp.send("shop", EVENT, LINK)
    [mail] = receiver.mails
    assert mail.tls
    assert mail.login == b"serinus"
    assert parse(mail.content)["Subject"] == "[serinus] shop: Awaiting judgement"


async def test_wrong_password_is_permanent_and_does_not_echo_the_password(
    smtp_server: Callable[..., Any], certificate: TestCertificate
) -> None:
    receiver = await smtp_server(certificate.server_context(), ("serinus", PASSWORD))
    smtp = notifier(
        receiver,
        username="serinus",
        password="wrong-" + PASSWORD,
        tls_context=certificate.client_context(),
    )
    with pytest.raises(NotifierError) as caught:
        await smtp.send("shop", EVENT)
    assert not caught.value.retryable
    assert "535" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert receiver.mails == []


async def test_an_untrusted_certificate_is_refused(
    smtp_server: Callable[..., Any], certificate: TestCertificate
) -> None:
    receiver = await smtp_server(certificate.server_context())
    # No TLS context: the system trust store does not know the test's self-signed certificate.
    with pytest.raises(NotifierError, match="CERTIFICATE_VERIFY_FAILED"):
        await notifier(receiver).send("shop", EVENT)
    assert receiver.mails == []


async def test_required_starttls_on_a_server_without_it_is_a_permanent_failure(
    smtp_server: Callable[..., Any],
) -> None:
    receiver = await smtp_server()
    with pytest.raises(NotifierError, match="STARTTLS") as caught:
        await notifier(receiver, starttls=True).send("shop", EVENT)
    assert not caught.value.retryable
    assert receiver.mails == []
