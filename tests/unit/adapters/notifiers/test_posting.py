"""One POST and the classification of its failure: retry what can heal, not what cannot."""

from __future__ import annotations

import httpx
import pytest

from serinus.adapters.notifiers.posting import post
from serinus.core.errors import NotifierError

SECRET_URL = "https://hooks.example/services/T0/B0/very-secret"


def client(status: int, text: str = "", headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.MockTransport(
            lambda request: httpx.Response(status, text=text, headers=headers)
        )
    )


async def test_success_returns_the_response() -> None:
    async with client(200, "ok") as http:
        response = await post(http, SECRET_URL, "slack webhook", json={"a": 1})
    assert response.text == "ok"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (503, True), (429, True), (408, True), (400, False), (403, False), (404, False)],
)
async def test_failed_statuses_are_classified(status: int, retryable: bool) -> None:
    async with client(status, "no_service\n") as http:
        with pytest.raises(NotifierError) as caught:
            await post(http, SECRET_URL, "slack webhook", json={})
    assert caught.value.retryable is retryable
    assert str(caught.value) == f"slack webhook answered HTTP {status}: no_service"
    assert "very-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "description"),
    [(500, "the server failed"), (403, "the credentials were refused"), (400, "the request")],
)
async def test_free_text_answers_are_never_copied(status: int, description: str) -> None:
    answer = '{"internal": "db-password=hunter2", "note": "Metadata service"}'
    async with client(status, answer) as http:
        with pytest.raises(NotifierError) as caught:
            await post(http, SECRET_URL, "webhook", json={})
    assert description in str(caught.value)
    assert "hunter2" not in str(caught.value) and "Metadata" not in str(caught.value)


async def test_redirects_are_not_followed_and_not_retried() -> None:
    async with client(301, "", {"Location": "https://elsewhere"}) as http:
        with pytest.raises(NotifierError, match="redirects are not followed") as caught:
            await post(http, SECRET_URL, "webhook", content=b"{}")
    assert not caught.value.retryable


async def test_transport_failures_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(
            NotifierError, match="webhook: ConnectError: connection refused"
        ) as caught:
            await post(http, SECRET_URL, "webhook", content=b"{}")
    assert caught.value.retryable


async def test_a_url_without_scheme_is_a_permanent_failure() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(NotifierError) as caught:
            await post(http, "ftp://nowhere/x", "webhook", content=b"{}")
    assert not caught.value.retryable
