"""The tokens file, token checks and the wrong-token throttle."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from serinus.core.errors import InvalidInput
from serinus.entrypoints.api import auth
from serinus.entrypoints.api.auth import (
    TOKENS_FILE_ENV,
    AuthConfig,
    FailureThrottle,
    hash_token,
    new_token,
)

ALICE = "alice-token-value"
BOB = "bob-token-value"
FILE = f"""
users:
  - name: alice
    roles: [approver, sre-lead]
    tokens: ["{hash_token(ALICE)}"]
  - name: bob
    roles: [deployer]
    tokens: ["{hash_token(BOB)}", "{hash_token("bob-second")}"]
"""


def test_hashes_are_sha256_hex_with_a_prefix() -> None:
    assert hash_token("abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()
    assert new_token() != new_token() and len(new_token()) >= 40


def test_tokens_map_to_users_with_implied_viewer_role() -> None:
    config = AuthConfig.from_yaml(FILE)
    alice = config.authenticate(ALICE)
    assert alice is not None and alice.name == "alice"
    assert alice.roles == {"approver", "sre-lead", "viewer"}
    for token in (BOB, "bob-second"):
        bob = config.authenticate(token)
        assert bob is not None and bob.roles == {"deployer", "viewer"}
    assert config.authenticate("nobody") is None
    assert config.authenticate(hash_token(ALICE)) is None  # the hash is not a password
    assert config.users == ["alice", "bob"]


def test_every_stored_hash_is_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    config = AuthConfig.from_yaml(FILE)
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    for token in (ALICE, BOB, "wrong"):
        calls.clear()
        config.authenticate(token)
        assert len(calls) == 3  # no early exit, no lookup by hash


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("users: [{name: a, roles: [viewer], tokens: [plain-token]}]", "users.0.tokens"),
        ("users: [{name: a, roles: [viewer], tokens: ['sha256:abc']}]", "users.0.tokens"),
        ("users: [{name: a, roles: [viewer], tokens: []}]", "users.0.tokens"),
        ("users: [{name: a, roles: ['bad role'], tokens: []}]", "users.0.roles"),
        ("users: [{name: a, tokens: ['x'], role: viewer}]", "users.0.role"),
        ("users: [{roles: [viewer], tokens: ['x']}]", "users.0.name"),
        ("users: {name: a}", "users"),
        ("users: [unclosed", "not valid YAML"),
    ],
)
def test_bad_tokens_files_name_the_field(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as error:
        AuthConfig.from_yaml(text)
    assert problem in str(error.value)
    assert "plain-token" not in str(error.value)  # a pasted token is never echoed


def test_duplicate_users_and_shared_hashes_are_refused() -> None:
    digest, other = hash_token("t"), hash_token("u")
    with pytest.raises(InvalidInput, match="listed twice"):
        AuthConfig.from_yaml(
            f"users: [{{name: a, tokens: ['{digest}']}}, {{name: a, tokens: ['{other}']}}]"
        )
    with pytest.raises(InvalidInput, match="more than one entry"):
        AuthConfig.from_yaml(
            f"users: [{{name: a, tokens: ['{digest}']}}, {{name: b, tokens: ['{digest}']}}]"
        )


def test_the_file_comes_from_the_argument_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(FILE)
    monkeypatch.delenv(TOKENS_FILE_ENV, raising=False)
    with pytest.raises(InvalidInput, match="--tokens-file"):
        AuthConfig.from_environment(None)
    monkeypatch.setenv(TOKENS_FILE_ENV, str(path))
    assert AuthConfig.from_environment(None).users == ["alice", "bob"]
    with pytest.raises(InvalidInput, match="cannot read"):
        AuthConfig.from_environment(tmp_path / "missing.yaml")


def test_the_throttle_counts_failures_in_a_sliding_window() -> None:
    now = [1000.0]
    throttle = FailureThrottle(max_failures=3, window_seconds=60, clock=lambda: now[0])
    for _ in range(2):
        throttle.failed("a")
        now[0] += 10
    assert throttle.retry_after("a") is None
    throttle.failed("a")  # third failure at t=1020; the first was at t=1000
    assert throttle.retry_after("a") == pytest.approx(40.0)
    assert throttle.retry_after("b") is None
    now[0] = 1060.5  # the first failure left the window
    assert throttle.retry_after("a") is None
    now[0] = 2000.0
    assert throttle.retry_after("a") is None
    assert throttle._failures == {}  # forgotten once idle


def test_the_throttle_stays_bounded_under_many_addresses() -> None:
    now = [0.0]
    throttle = FailureThrottle(
        max_failures=2, window_seconds=60, clock=lambda: now[0], max_clients=100
    )
    for index in range(1000):
        now[0] += 0.001
        throttle.failed(f"10.0.{index // 256}.{index % 256}")
    assert len(throttle._failures) <= 100


def test_a_single_user_session_gets_a_fresh_token() -> None:
    config, token = AuthConfig.single_user("demo", ["approver", "deployer"])
    other, second = AuthConfig.single_user("demo", ["viewer"])
    assert token != second
    principal = config.authenticate(token)
    assert principal is not None and principal.roles == {"approver", "deployer", "viewer"}
    assert config.authenticate(second) is None and other.authenticate(token) is None
