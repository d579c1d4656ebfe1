"""SMTP checks its server against the egress guard before connecting (the operator's guard)."""

from __future__ import annotations

import pytest

from serinus.adapters.egress import EgressGuard
from serinus.adapters.notifiers.rendering import MessageRenderer
from serinus.adapters.notifiers.smtp import SmtpNotifier
from serinus.core.errors import NotifierError
from serinus.core.events import Event, EventType

EVENT = Event(type=EventType.FAILED, message="analysis failed", at=1.0)


async def test_a_link_local_smtp_server_is_refused_without_connecting() -> None:
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["169.254.20.1"]

    notifier = SmtpNotifier(
        host="mail.internal",
        port=25,
        sender="serinus@example.com",
        recipients=["ops@example.com"],
        renderer=MessageRenderer(),
        egress=EgressGuard(resolver=resolver),
    )
    with pytest.raises(NotifierError, match=r"mail\.internal \(169\.254\.20\.1\)") as caught:
        await notifier.send("shop", EVENT)
    assert not caught.value.retryable
    assert asked == ["mail.internal"]
