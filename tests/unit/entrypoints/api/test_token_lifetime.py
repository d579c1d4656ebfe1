"""Tokens that expire and tokens that are revoked: the file's forms, the refusal, the re-read file.

The clock is injected; a changed file is written as editors and `serinus token` write it (a new
file renamed over the old one), so each change has a new inode and no test waits on mtimes.
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path

import httpx
import pytest
import yaml

from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app.metrics import SerinusMetrics
from serinus.core.errors import DependencyError, InvalidInput
from serinus.entrypoints.api import auth, create_app
from serinus.entrypoints.api.access import TokensAccess
from serinus.entrypoints.api.auth import (
    AuthConfig,
    FailureThrottle,
    Principal,
    Refused,
    TokensFile,
    hash_token,
)

ALICE, BOB, OLD = "alice-token-0123456789", "bob-token-0123456789", "old-token-0123456789"
EXPIRES = 1_798_761_600.0  # 2027-01-01T00:00:00Z
FILE = f"""
users:
  - name: alice
    roles: [approver]
    tokens: [{{hash: "{hash_token(ALICE)}", expires: 2027-01-01T00:00:00Z}}]
  - name: bob
    roles: [deployer]
    tokens: ["{hash_token(BOB)}", "{hash_token(OLD)}"]
revoked: ["{hash_token(OLD)}", "{hash_token("gone-token")}"]
"""


def test_a_token_is_accepted_until_its_expiry_then_refused_as_expired() -> None:
    now = [EXPIRES - 1]
    config = AuthConfig.from_yaml(FILE, clock=lambda: now[0])
    alice = config.authenticate(ALICE)
    assert isinstance(alice, Principal) and alice.name == "alice"
    now[0] = EXPIRES
    refused = config.authenticate(ALICE)
    assert refused == Refused("expired", "this token expired at 2027-01-01T00:00:00Z", "alice")
    assert "alice" not in refused.message  # the caller is never told whose token it was
    bob = config.authenticate(BOB)  # a plain hash never expires
    assert isinstance(bob, Principal) and bob.name == "bob"


def test_a_revoked_hash_is_refused_even_while_its_user_lists_it() -> None:
    config = AuthConfig.from_yaml(FILE)
    assert config.authenticate(OLD) == Refused("revoked", "this token was revoked", "bob")
    # Revoked with its user since removed: still "revoked", not "unknown".
    assert config.authenticate("gone-token") == Refused("revoked", "this token was revoked", None)
    assert config.authenticate("never-issued") is None


def test_every_user_and_revoked_hash_is_compared_whichever_matches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = AuthConfig.from_yaml(FILE)
    calls: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    for token in (ALICE, OLD, "wrong"):
        calls.clear()
        config.authenticate(token)
        assert len(calls) == 5  # three user hashes and two revoked ones, no early exit


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (f'{{hash: "{hash_token("x")}", expires: 2027-01-01T00:00:00}}', "expires: Value error"),
        (f'{{hash: "{hash_token("x")}", expires: 2027-01-01}}', "with its zone"),
        (f'{{hash: "{hash_token("x")}", expires: soon}}', "users.0.tokens.0.expires"),
        (f'{{hash: "{hash_token("x")}", expiry: 2027-01-01T00:00:00Z}}', "tokens.0.expiry"),
        ('{hash: "plain-token"}', "users.0.tokens.0.hash"),
    ],
)
def test_bad_token_entries_name_their_field(entry: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as error:
        AuthConfig.from_yaml(f"users: [{{name: a, tokens: [{entry}]}}]")
    assert problem in str(error.value)
    assert "plain-token" not in str(error.value)


def test_a_bad_revoked_entry_names_its_index_without_echoing_it() -> None:
    with pytest.raises(InvalidInput) as error:
        AuthConfig.from_yaml(f"users: []\nrevoked: ['{hash_token('a')}', plain-token]")
    assert "revoked.1" in str(error.value) and "plain-token" not in str(error.value)


def test_the_written_form_reads_back_the_same() -> None:
    parsed = TokensFile.model_validate(yaml.safe_load(FILE))
    stored = parsed.stored()
    assert stored["users"][0]["tokens"] == [
        {"hash": hash_token(ALICE), "expires": "2027-01-01T00:00:00Z"}
    ]
    assert stored["users"][1]["tokens"] == [hash_token(BOB), hash_token(OLD)]  # plain form kept
    assert TokensFile.model_validate(yaml.safe_load(yaml.safe_dump(stored))) == parsed


def replace(path: Path, text: str) -> None:
    """Write as editors and `serinus token` do: a new file renamed over the old one."""
    partial = path.with_name(path.name + ".new")
    partial.write_text(text)
    partial.replace(path)


async def test_the_watched_file_applies_each_change_at_the_next_request(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    replace(path, FILE)
    access = TokensAccess.watching(path)
    assert isinstance(await access.authenticate(BOB), Principal)

    revoked = yaml.safe_load(FILE)
    revoked["revoked"].append(hash_token(BOB))
    replace(path, yaml.safe_dump(revoked))
    assert await access.authenticate(BOB) == Refused("revoked", "this token was revoked", "bob")

    revoked["users"] = revoked["users"][:1]  # bob removed altogether
    revoked["revoked"] = []
    replace(path, yaml.safe_dump(revoked))
    assert await access.authenticate(BOB) is None
    assert access.describe() == "tokens file (1 user)"


async def test_a_broken_or_missing_file_refuses_every_token_until_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.yaml"
    replace(path, FILE)
    access = TokensAccess.watching(path)
    replace(path, "users: [unclosed")
    refused = pytest.raises(DependencyError, match="every token is refused until it is fixed")
    with caplog.at_level(logging.ERROR, "serinus.api"), refused:
        await access.authenticate(BOB)
    assert "not valid YAML" in caplog.text  # the log says why; the caller is not told
    with pytest.raises(DependencyError):
        await access.authenticate(BOB)  # still broken: refused again without re-reading
    replace(path, FILE)
    assert isinstance(await access.authenticate(BOB), Principal)
    path.unlink()
    with pytest.raises(DependencyError):
        await access.authenticate(BOB)


async def test_the_api_says_expired_or_revoked_logs_it_without_the_token_and_does_not_throttle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.yaml"
    expired = FILE.replace("2027-01-01T00:00:00Z", "2020-01-01T00:00:00Z")
    replace(path, expired)
    throttle = FailureThrottle(max_failures=2, window_seconds=60)
    app = create_app(
        MemoryStateStore(),
        TokensAccess.watching(path),
        metrics=SerinusMetrics(),
        throttle=throttle,
    )
    transport = httpx.ASGITransport(app=app, client=("192.0.2.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://serinus.test") as client:

        async def whoami(token: str) -> httpx.Response:
            return await client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})

        with caplog.at_level(logging.WARNING, "serinus.api"):
            for _ in range(3):  # more than max_failures: refusals that are not guesses
                answer = await whoami(ALICE)
                assert answer.status_code == 401
                assert answer.json()["detail"] == (
                    "this token expired at 2020-01-01T00:00:00Z: sign in with a new token"
                )
                assert "invalid_token" in answer.headers["www-authenticate"]
            revoked = await whoami(OLD)
        assert revoked.status_code == 401
        assert revoked.json()["detail"] == "this token was revoked: sign in with a new token"
        assert "bob" not in revoked.text and "alice" not in answer.text
        assert "401 GET /api/v1/whoami: expired token of alice from 192.0.2.9" in caplog.text
        assert "revoked token of bob" in caplog.text
        for secret in (ALICE, OLD, hash_token(ALICE), hash_token(OLD)):
            assert secret not in caplog.text
        assert (await whoami(BOB)).status_code == 200  # the address was not throttled

        replace(path, "users: [unclosed")
        broken = await whoami(BOB)
        assert broken.status_code == 503 and "tokens file cannot be used" in broken.text
        assert "unclosed" not in broken.text
