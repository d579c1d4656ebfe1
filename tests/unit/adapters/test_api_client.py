"""The API client the cluster CLI sends gated decisions with, against the real API app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from api_world import TOKENS, serving

from serinus.adapters.api_client import ApiClient
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.core.errors import Conflict, DependencyError, InvalidInput, PermissionDenied


@pytest.fixture
async def world() -> AsyncIterator[tuple[httpx.ASGITransport, MemoryStateStore]]:
    async with serving() as api:
        yield httpx.ASGITransport(app=api.app, client=("192.0.2.9", 1)), api.store


def client(transport: httpx.ASGITransport, user: str | None) -> ApiClient:
    header = f"Bearer {TOKENS[user]}" if user else None
    return ApiClient("http://serinus.test", lambda: header, transport=transport)


async def test_a_judgement_is_sent_bound_to_what_the_client_read(
    world: tuple[httpx.ASGITransport, MemoryStateStore],
) -> None:
    transport, store = world
    async with client(transport, "sre") as api:
        entry = await api.judge("gated", approve=True, comment="ok")
    assert entry["actor"] == "sre" and entry["kind"] == "judge"
    [intent] = await store.intents("gated")
    assert (intent.revision, intent.step, intent.source) == (0, 1, "api")


async def test_the_api_s_refusals_become_serinus_errors_with_its_message(
    world: tuple[httpx.ASGITransport, MemoryStateStore],
) -> None:
    transport, store = world
    async with client(transport, "dan") as api:
        with pytest.raises(PermissionDenied, match="promote-full needs permission to judge"):
            await api.promote("gated", full=True)
        with pytest.raises(Conflict, match=r"revision 5, step 2\) is no longer pending"):
            await api.judge("gated", approve=True, revision=5, step=1)
        with pytest.raises(Conflict, match="no judgement is pending"):
            await api.judge("paused", approve=True)
    async with client(transport, "ann") as api:
        with pytest.raises(InvalidInput, match=r"inputs\.ticket: required to approve"):
            await api.judge("judged", approve=True)
    async with client(transport, "dan") as api:
        assert (await api.operate("judged", "abort", "errors up"))["kind"] == "abort"
    assert await store.intents("gated") == []
    assert [i.kind.value for i in await store.intents("judged")] == ["abort"]


async def test_no_bearer_token_is_a_clear_error_before_any_request(
    world: tuple[httpx.ASGITransport, MemoryStateStore],
) -> None:
    transport, _ = world
    async with client(transport, None) as api:
        with pytest.raises(InvalidInput, match="has no bearer token"):
            await api.rollout("judged")
    basic = ApiClient("http://serinus.test", lambda: "Basic dTpw", transport=transport)
    async with basic:
        with pytest.raises(InvalidInput, match="client certificates and basic auth"):
            await basic.rollout("judged")


async def test_an_unreachable_api_is_a_dependency_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    api = ApiClient(
        "http://serinus.test", lambda: "Bearer t", transport=httpx.MockTransport(refuse)
    )
    async with api:
        with pytest.raises(DependencyError, match="cannot reach the serinus API"):
            await api.rollout("web")
