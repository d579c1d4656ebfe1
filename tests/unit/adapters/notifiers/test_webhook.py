"""Webhook body and its HMAC-SHA256 signature over `<timestamp>.<body>`."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from serinus.adapters.notifiers.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    delivery_id,
    verify_signature,
    webhook_body,
)
from serinus.core.events import Event, EventType

EVENT = Event(
    type=EventType.JUDGED,
    message="approved by ana",
    at=1_700_000_000.5,
    data={"approved": True, "user": "ana", "inputs": {"ticket": "OPS-1"}},
)
SECRET = "hmac-key-123"
NOW = 1_700_000_100.0


def test_body_has_the_documented_shape() -> None:
    document = json.loads(webhook_body("shop", EVENT, "https://dash/rollouts/shop"))
    assert document == {
        "rollout": "shop",
        "event": {
            "type": "Judged",
            "message": "approved by ana",
            "at": 1_700_000_000.5,
            "severity": "info",
            "data": {"approved": True, "user": "ana", "inputs": {"ticket": "OPS-1"}},
        },
        "link": "https://dash/rollouts/shop",
    }


def test_headers_sign_timestamp_and_body_with_hmac_sha256() -> None:
    hook = WebhookNotifier(
        url="https://h.test/x",
        secret=SECRET,
        http=httpx.AsyncClient(),
        headers={"X-Team": "payments"},
        clock=lambda: NOW,
    )
    body = webhook_body("shop", EVENT, None)
    headers = hook.request_headers("shop", EVENT, body)
    assert headers[TIMESTAMP_HEADER] == "1700000100"
    expected = hmac.new(SECRET.encode(), b"1700000100." + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert headers["X-Team"] == "payments"
    assert headers["Content-Type"] == "application/json"
    assert headers[DELIVERY_HEADER] == delivery_id("shop", EVENT)


def test_verify_accepts_the_genuine_request() -> None:
    body = webhook_body("shop", EVENT, None)
    headers = WebhookNotifier(
        url="https://h.test", secret=SECRET, http=httpx.AsyncClient(), clock=lambda: NOW
    ).request_headers("shop", EVENT, body)
    assert verify_signature(
        SECRET, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], now=NOW + 10
    )


@pytest.mark.parametrize(
    ("secret", "body_suffix", "timestamp", "now"),
    [
        ("wrong-key", b"", "1700000100", NOW),  # not signed with our key
        (SECRET, b" ", "1700000100", NOW),  # body changed after signing
        (SECRET, b"", "1700000101", NOW),  # timestamp changed after signing
        (SECRET, b"", "1700000100", NOW + 301),  # replayed after the tolerance
        (SECRET, b"", "soon", NOW),  # not a timestamp
    ],
)
def test_verify_rejects_forged_tampered_and_replayed_requests(
    secret: str, body_suffix: bytes, timestamp: str, now: float
) -> None:
    body = webhook_body("shop", EVENT, None)
    signature = hmac.new(SECRET.encode(), b"1700000100." + body, hashlib.sha256).hexdigest()
    assert not verify_signature(
        secret, body + body_suffix, timestamp, f"sha256={signature}", now=now
    )


def test_delivery_id_is_stable_per_event_and_differs_between_events() -> None:
    assert delivery_id("shop", EVENT) == delivery_id("shop", EVENT)
    assert delivery_id("shop", EVENT) != delivery_id("cart", EVENT)
    later = EVENT.model_copy(update={"at": EVENT.at + 1})
    assert delivery_id("shop", EVENT) != delivery_id("shop", later)


async def test_send_posts_exactly_the_signed_bytes() -> None:
    seen: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as http:
        await WebhookNotifier(url="https://h.test/x", secret=SECRET, http=http).send("shop", EVENT)
    request = seen[0]
    assert verify_signature(
        SECRET,
        request.content,
        request.headers[TIMESTAMP_HEADER],
        request.headers[SIGNATURE_HEADER],
        now=float(request.headers[TIMESTAMP_HEADER]),
    )
