"""Twilio SMS: one form POST per recipient; a retry skips recipients Twilio already accepted."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import httpx
import pytest

from serinus.adapters.notifiers.rendering import MessageRenderer
from serinus.adapters.notifiers.twilio import BODY_LIMIT, TwilioSmsNotifier
from serinus.core.errors import NotifierError
from serinus.core.events import Event, EventType

EVENT = Event(type=EventType.FAILED, message="error rate above 5%", at=10.0)


def sms(
    http: httpx.AsyncClient, sender: str = "+15005550006", to: list[str] | None = None
) -> TwilioSmsNotifier:
    return TwilioSmsNotifier(
        base_url="http://twilio.test/",
        account_sid="AC123",
        auth_token="tok-secret",
        sender=sender,
        recipients=to or ["+15551110001"],
        http=http,
        renderer=MessageRenderer(),
    )


async def test_posts_form_to_the_messages_endpoint_with_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"sid": "SM1"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as http:
        await sms(http).send("shop", EVENT, "https://dash/rollouts/shop")
    request = seen[0]
    assert str(request.url) == "http://twilio.test/2010-04-01/Accounts/AC123/Messages.json"
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(b"AC123:tok-secret").decode()
    )
    form = parse_qs(request.content.decode())
    assert form["To"] == ["+15551110001"]
    assert form["From"] == ["+15005550006"]
    assert form["Body"] == ["serinus shop: Failed. error rate above 5% https://dash/rollouts/shop"]


async def test_messaging_service_sid_goes_in_its_own_field() -> None:
    seen: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201)

    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as http:
        await sms(http, sender="MG" + "a" * 32).send("shop", EVENT)
    form = parse_qs(seen[0].content.decode())
    assert form["MessagingServiceSid"] == ["MG" + "a" * 32]
    assert "From" not in form


def test_body_is_one_line_and_bounded() -> None:
    long = Event(type=EventType.FAILED, message="word\n" * 400, at=0)
    body = sms(httpx.AsyncClient()).body("shop", long, "https://dash/" + "x" * 300)
    assert "\n" not in body
    assert len(body) <= BODY_LIMIT


async def test_retry_after_partial_failure_texts_only_the_missed_recipient() -> None:
    answers = {"+15551110001": [201], "+15551110002": [500, 201]}
    seen: list[str] = []

    def receive(request: httpx.Request) -> httpx.Response:
        to = parse_qs(request.content.decode())["To"][0]
        seen.append(to)
        return httpx.Response(answers[to].pop(0))

    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as http:
        notifier = sms(http, to=["+15551110001", "+15551110002"])
        with pytest.raises(
            NotifierError, match=r"twilio \(to \+15551110002\) answered HTTP 500"
        ) as caught:
            await notifier.send("shop", EVENT)
        assert caught.value.retryable
        await notifier.send("shop", EVENT)
    assert seen == ["+15551110001", "+15551110002", "+15551110002"]


async def test_all_permanent_failures_make_a_permanent_error() -> None:
    def receive(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": 21211, "message": "Invalid 'To' Phone Number"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as http:
        with pytest.raises(NotifierError, match="21211") as caught:
            await sms(http).send("shop", EVENT)
    assert not caught.value.retryable
