"""A token revoked in the tokens file, over real HTTP (uvicorn): the next request is refused and
an open live stream ends with `signed-out`, without restarting the server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from api_world import TOKENS, auth_header, next_event, seed

from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app.metrics import SerinusMetrics
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.access import TokensAccess
from serinus.entrypoints.api.auth import hash_token
from serinus.entrypoints.api.server import background

pytestmark = pytest.mark.integration


def tokens_file(path: Path, revoked: list[str]) -> None:
    users = [
        {"name": "vera", "roles": ["viewer"], "tokens": [hash_token(TOKENS["vera"])]},
        {"name": "dan", "roles": ["deployer"], "tokens": [hash_token(TOKENS["dan"])]},
    ]
    partial = path.with_name("tokens.new")
    partial.write_text(yaml.safe_dump({"users": users, "revoked": revoked}))
    partial.replace(path)


async def test_a_revoked_token_is_refused_and_its_open_stream_signed_out(tmp_path: Path) -> None:
    store = MemoryStateStore()
    await seed(store)
    path = tmp_path / "tokens.yaml"
    tokens_file(path, [])
    app = create_app(
        store, TokensAccess.watching(path), metrics=SerinusMetrics(), poll_seconds=0.05
    )
    async with background(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        async with client.stream(
            "GET", "/api/v1/rollouts/paused/events", headers=auth_header("vera")
        ) as response:
            lines = response.aiter_lines()
            assert (await next_event(lines))[0] == "snapshot"
            tokens_file(path, [hash_token(TOKENS["vera"])])
            kind, data = await next_event(lines)
            assert (kind, data) == (
                "signed-out",
                {"detail": "this token was revoked: sign in with a new token"},
            )
            assert [line async for line in lines if line.startswith("data:")] == []  # it ended
        refused = await client.get("/api/v1/whoami", headers=auth_header("vera"))
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        kept = await client.get("/api/v1/whoami", headers=auth_header("dan"))
        assert kept.status_code == 200 and kept.json()["name"] == "dan"
