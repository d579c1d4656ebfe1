"""Generic webhooks: a JSON POST signed with HMAC-SHA256 so the receiver can trust it.

The signing scheme (what a receiver implements):

- `X-Serinus-Timestamp`: Unix seconds when the request was signed.
- `X-Serinus-Signature`: `sha256=` + hex HMAC-SHA256, keyed with the shared secret (UTF-8), of
  the bytes `<timestamp>` + `.` + `<raw request body>`.
- The receiver recomputes the HMAC over the raw body it received (before parsing the JSON),
  compares in constant time, and rejects timestamps further than a tolerance (5 minutes) from its
  clock. Because the timestamp is signed, a captured request cannot be replayed later with a
  fresh timestamp; within the tolerance, `X-Serinus-Delivery` (the same on every retry of one
  delivery) lets the receiver drop duplicates.

Body: `{"rollout", "event": {"type", "message", "at", "severity", "data"}, "link"}`.
`verify_signature` below is a reference implementation for Python receivers.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping

import httpx

from serinus.adapters.notifiers.posting import post
from serinus.adapters.signing import (  # noqa: F401  (re-exported for receivers' imports)
    DEFAULT_TOLERANCE_SECONDS,
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify_signature,
)
from serinus.core.events import Event

EVENT_HEADER = "X-Serinus-Event"


def webhook_body(rollout: str, event: Event, link: str | None) -> bytes:
    """The exact bytes that are signed and sent (compact, keys sorted: stable for one event)."""
    document = {
        "rollout": rollout,
        "event": {
            "type": event.type.value,
            "message": event.message,
            "at": event.at,
            "severity": event.severity.value,
            "data": event.model_dump(mode="json")["data"],
        },
        "link": link,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def delivery_id(rollout: str, event: Event) -> str:
    """Stable for one event to one rollout, so retries carry the same id."""
    key = f"{rollout}\x00{event.type.value}\x00{event.at!r}\x00{event.message}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class WebhookNotifier:
    def __init__(
        self,
        *,
        url: str,
        secret: str,
        http: httpx.AsyncClient,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._secret = secret
        self._http = http
        self._headers = dict(headers or {})
        self._clock = clock

    def request_headers(self, rollout: str, event: Event, body: bytes) -> dict[str, str]:
        timestamp = str(int(self._clock()))
        return {
            **self._headers,
            "Content-Type": "application/json",
            "User-Agent": "serinus-notifier",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            EVENT_HEADER: event.type.value,
            DELIVERY_HEADER: delivery_id(rollout, event),
        }

    async def send(self, rollout: str, event: Event, link: str | None = None) -> None:
        body = webhook_body(rollout, event, link)
        headers = self.request_headers(rollout, event, body)
        await post(self._http, self._url, "webhook", content=body, headers=headers)
