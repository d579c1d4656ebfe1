"""`serinus token` writes only hashes; `serinus serve` refuses to start without users."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from serinus.entrypoints.api.auth import TOKENS_FILE_ENV, AuthConfig, hash_token
from serinus.entrypoints.cli import main

main._register()


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main.app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_token_add_prints_the_token_once_and_stores_its_hash(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    code, out, _ = invoke(
        "token", "add", "alice", "-r", "approver", "-r", "sre-lead", "-f", str(tokens)
    )
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert len(token) >= 40 and token not in tokens.read_text()
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"
    config = AuthConfig.from_file(tokens)
    alice = config.authenticate(token)
    assert alice is not None and alice.roles == {"approver", "sre-lead", "viewer"}

    code, out, _ = invoke("token", "add", "alice", "-r", "deployer", "-f", str(tokens))
    second = out.strip().splitlines()[-1]
    [entry] = yaml.safe_load(tokens.read_text())["users"]
    assert entry["roles"] == ["approver", "deployer", "sre-lead"]
    assert entry["tokens"] == [hash_token(token), hash_token(second)]


def test_token_hash_reads_stdin(tmp_path: Path) -> None:
    code, out, _ = invoke("token", "hash", stdin="s3cret\n")
    assert code == 0 and out.strip() == hash_token("s3cret")
    code, _, err = invoke("token", "hash", stdin="")
    assert code == 2 and "stdin" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "--tokens-file"),
        ("users: []", "no users"),
        ("users: [{name: a, tokens: [plain]}]", "users.0.tokens"),
    ],
)
def test_serve_refuses_to_start_without_valid_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, message: str
) -> None:
    monkeypatch.delenv(TOKENS_FILE_ENV, raising=False)
    args = ["--state-dir", str(tmp_path / "state"), "serve", "--port", "0"]
    if content is not None:
        path = tmp_path / "tokens.yaml"
        path.write_text(content)
        args += ["--tokens-file", str(path)]
    code, _, err = invoke(*args)
    assert code == 2 and message in err
