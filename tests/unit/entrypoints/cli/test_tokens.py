"""`serinus token`: entries that expire (`--expires`), revocation, and files written whole."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from serinus.entrypoints.api.auth import AuthConfig, Principal, Refused, TokensFile, hash_token
from serinus.entrypoints.cli import main
from serinus.entrypoints.cli.serve import expiry

main._register()
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main.app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", NOW + 30 * 86400),
        ("12h", NOW + 12 * 3600),
        ("90m", NOW + 90 * 60),
        ("2027-12-31T00:00:00Z", 1_830_211_200.0),
        ("2027-12-31T01:00:00+01:00", 1_830_211_200.0),
    ],
)
def test_expires_is_a_span_from_now_or_a_time_with_its_zone(text: str, seconds: float) -> None:
    assert expiry(text, NOW) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30 days", "neither a time from now"),
        ("0d", "neither a time from now"),
        ("2027-12-31T00:00:00", "neither a time from now"),  # no zone: ambiguous
        ("2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z is already past"),
    ],
)
def test_a_bad_expiry_names_the_option(text: str, message: str) -> None:
    code, _, err = invoke("token", "hash", "--expires", text, stdin="s3cret\n")
    assert code == 2 and "--expires" in err and message in err


def test_token_hash_with_an_expiry_prints_an_entry_the_file_accepts() -> None:
    code, out, _ = invoke("token", "hash", "--expires", "2099-01-01T00:00:00Z", stdin="s3cret\n")
    assert code == 0
    assert out.strip() == f'{{hash: "{hash_token("s3cret")}", expires: 2099-01-01T00:00:00Z}}'
    config = AuthConfig.from_yaml(f"users: [{{name: a, tokens: [{out.strip()}]}}]")
    assert isinstance(config.authenticate("s3cret"), Principal)


def test_token_add_with_an_expiry_then_revoke(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    code, out, _ = invoke("token", "add", "alice", "-r", "viewer", "-f", str(tokens))
    assert code == 0
    forever = out.strip().splitlines()[-1]
    code, out, _ = invoke(
        "token", "add", "alice", "-r", "approver", "--expires", "30d", "-f", str(tokens)
    )
    assert code == 0 and "expires 20" in out
    month = out.strip().splitlines()[-1]
    [entry] = yaml.safe_load(tokens.read_text())["users"]
    assert entry["roles"] == ["approver", "viewer"]
    assert entry["tokens"][0] == hash_token(forever)  # the plain form is kept
    assert entry["tokens"][1]["hash"] == hash_token(month)
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"

    later = AuthConfig.from_file(tokens, clock=lambda: time.time() + 31 * 86400)
    assert isinstance(later.authenticate(forever), Principal)
    refused = later.authenticate(month)
    assert isinstance(refused, Refused) and refused.reason == "expired"

    inode = tokens.stat().st_ino
    code, out, _ = invoke("token", "revoke", "-f", str(tokens), stdin=forever + "\n")
    assert code == 0 and "revoked alice's token" in out
    assert tokens.stat().st_ino != inode  # replaced whole: a server never reads half of it
    assert TokensFile.model_validate(yaml.safe_load(tokens.read_text())).revoked == [
        hash_token(forever)
    ]
    assert AuthConfig.from_file(tokens).authenticate(forever) == Refused(
        "revoked", "this token was revoked", "alice"
    )
    code, out, _ = invoke("token", "revoke", "-f", str(tokens), stdin=forever + "\n")
    assert code == 0 and yaml.safe_load(tokens.read_text())["revoked"] == [hash_token(forever)]
    code, out, _ = invoke("token", "revoke", "-f", str(tokens), stdin="never-issued\n")
    assert code == 0 and "a token no user lists" in out
    assert list(tmp_path.iterdir()) == [tokens]  # no temporary file left behind


def test_revoke_needs_an_existing_file_and_a_token(tmp_path: Path) -> None:
    code, _, err = invoke("token", "revoke", "-f", str(tmp_path / "none.yaml"), stdin="t\n")
    assert code == 2 and "no such tokens file" in err
    code, _, err = invoke("token", "revoke", "-f", str(tmp_path / "none.yaml"), stdin="")
    assert code == 2 and "token revoke < token.txt" in err
