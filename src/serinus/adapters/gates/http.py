"""Calling a webhook gate: a signed JSON POST with a timeout, retried with backoff.

The result is a `GateCall`: whether some attempt got a 2xx, the last status code, the time spent
and a fixed description. Nothing the receiver sent (body, headers, a TLS error's text) is kept:
the gate's URL may point at an internal service and the result reaches the status, the history
and the API. In the operator the client sits behind the egress guard.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from serinus.adapters.egress import EgressGuard, EgressRefused, guarded
from serinus.adapters.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from serinus.core.gates import GateCall

HOOK_HEADER = "X-Serinus-Hook"
BACKOFF_SECONDS = 0.5  # before the first retry; doubled after each, capped
MAX_BACKOFF_SECONDS = 5.0


def _failure(exc: Exception, timeout: float) -> tuple[str, bool]:
    """A fixed description of a failed attempt, and whether a retry can help."""
    if isinstance(exc, EgressRefused):
        return "refused by the egress guard (link-local or metadata address)", False
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g}s", True
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect (refused, unreachable or a TLS failure)", True
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return "the URL cannot be requested", False
    return f"the request failed ({type(exc).__name__})", True


class HttpGateCaller:
    def __init__(
        self,
        *,
        egress: EgressGuard | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | str = True,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._transport = guarded(egress, transport, verify)
        self._verify = verify
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep

    def _headers(self, body: bytes, secret: str | None, hook: str, delivery: str) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "serinus-gate",
            HOOK_HEADER: hook,
            DELIVERY_HEADER: delivery,
        }
        if secret is not None:
            timestamp = str(int(self._clock()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
        return headers

    async def call(
        self,
        url: str,
        body: bytes,
        *,
        secret: str | None,
        timeout: float,
        retries: int,
        hook: str,
        delivery: str,
    ) -> GateCall:
        """Up to `1 + retries` attempts; stops at the first 2xx or a failure a retry cannot fix."""
        started = self._monotonic()
        status: int | None = None
        description = ""
        attempts = 0
        async with httpx.AsyncClient(
            transport=self._transport, verify=self._verify, timeout=timeout
        ) as http:
            for attempt in range(retries + 1):
                if attempt:
                    await self._sleep(
                        min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
                    )
                attempts += 1
                headers = self._headers(body, secret, hook, delivery)  # fresh timestamp
                try:
                    response = await http.post(url, content=body, headers=headers)
                except Exception as exc:  # every failure is an outcome, never a crash
                    status = None
                    description, retryable = _failure(exc, timeout)
                    if not retryable:
                        break
                    continue
                status = response.status_code
                if response.is_success:
                    return GateCall(
                        ok=True,
                        status_code=status,
                        duration=self._monotonic() - started,
                        attempts=attempts,
                        description=f"HTTP {status}",
                    )
                description = f"HTTP {status}"
        return GateCall(
            ok=False,
            status_code=status,
            duration=self._monotonic() - started,
            attempts=attempts,
            description=description,
        )
