"""The gate caller against a real local HTTP receiver: 2xx, 500s, timeouts, bad signatures."""

from __future__ import annotations

import socket

import pytest
from gate_receiver import LEAK, receiving

from serinus.adapters.egress import EgressGuard
from serinus.adapters.gates.http import HttpGateCaller
from serinus.adapters.signing import DELIVERY_HEADER
from serinus.core.gates import GateCall

BODY = b'{"rollout":"web"}'


async def no_wait(_: float) -> None:
    return None


async def call(
    url: str, *, secret: str | None = "k", timeout: float = 2.0, retries: int = 2
) -> GateCall:
    return await HttpGateCaller(sleep=no_wait).call(
        url, BODY, secret=secret, timeout=timeout, retries=retries, hook="preRollout", delivery="d1"
    )


async def test_a_2xx_passes_on_the_first_attempt_with_a_verified_signature() -> None:
    with receiving(answer=204, secret="k") as receiver:
        result = await call(receiver.url + "/gate")
    assert result.ok and result.status_code == 204 and result.attempts == 1
    assert result.description == "HTTP 204"
    (request,) = receiver.requests
    assert request.signed and request.body == BODY
    assert request.headers[DELIVERY_HEADER] == "d1"


async def test_500s_are_retried_then_fail_with_the_status_and_attempts() -> None:
    with receiving(answer=500) as receiver:
        result = await call(receiver.url, retries=2)
    assert not result.ok
    assert (result.status_code, result.attempts, result.description) == (500, 3, "HTTP 500")
    assert len(receiver.requests) == 3
    assert LEAK not in result.model_dump_json()


async def test_a_bad_signature_is_refused_by_the_receiver() -> None:
    with receiving(secret="the-receivers-key") as receiver:
        result = await call(receiver.url, secret="another-key", retries=0)
    assert not result.ok and result.status_code == 401
    assert not receiver.requests[0].signed


async def test_an_unsigned_call_is_refused_by_a_receiver_that_verifies() -> None:
    with receiving(secret="k") as receiver:
        result = await call(receiver.url, secret=None, retries=0)
    assert result.status_code == 401


async def test_a_slow_receiver_times_out_with_a_fixed_description() -> None:
    with receiving(delay=1.0) as receiver:
        result = await call(receiver.url, timeout=0.2, retries=1)
    assert not result.ok and result.status_code is None
    assert result.attempts == 2
    assert result.description == "no answer within 0.2s"


async def test_a_slow_answer_within_the_timeout_passes() -> None:
    with receiving(delay=0.3) as receiver:
        result = await call(receiver.url, timeout=5.0)
    assert result.ok and result.duration >= 0.3


async def test_connection_refused_is_an_outcome_not_an_exception() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        result = await call(f"http://127.0.0.1:{port}/", retries=1)
    assert not result.ok and result.attempts == 2
    assert result.description.startswith("cannot connect")


async def test_bad_tls_fails_without_the_peers_text() -> None:
    with receiving() as receiver:  # plain HTTP: a TLS handshake with it fails
        url = receiver.url.replace("http://", "https://")
        result = await call(url, retries=0)
    assert not result.ok and result.status_code is None
    assert result.description.startswith("cannot connect")


async def test_the_egress_guard_refuses_metadata_addresses_without_retrying() -> None:
    guarded = HttpGateCaller(egress=EgressGuard(), sleep=no_wait)
    result = await guarded.call(
        "http://169.254.169.254/latest", BODY, secret=None, timeout=1, retries=3, hook="x",
        delivery="d",
    )  # fmt: skip
    assert not result.ok and result.attempts == 1
    assert "egress guard" in result.description


@pytest.mark.parametrize("answer", [200, 201, 299])
async def test_every_2xx_passes(answer: int) -> None:
    with receiving(answer=answer) as receiver:
        assert (await call(receiver.url)).ok
