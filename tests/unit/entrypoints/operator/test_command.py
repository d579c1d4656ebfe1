"""`serinus operator`: the trust options reach the drivers; bad allowlist entries are refused;
the tokens file is watched (re-read when it changes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from serinus.entrypoints.api.access import TokensAccess
from serinus.entrypoints.api.auth import hash_token
from serinus.entrypoints.cli.main import _register, app
from serinus.entrypoints.operator import runtime

_register()
runner = CliRunner()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    configs: list[Any] = []

    async def run_operator(config: Any, stop: Any = None) -> int:
        configs.append(config)
        return 0

    monkeypatch.setattr(runtime, "run_operator", run_operator)
    return configs


def test_the_flags_reach_the_drivers(started: list[Any]) -> None:
    args = ["operator", "-n", "shop", "--egress-allow", "169.254.10.0/24"]
    result = runner.invoke(app, [*args, "--egress-allow", "metrics.internal"])
    assert result.exit_code == 0, result.output
    [config] = started
    assert config.drivers.egress_allow == ("169.254.10.0/24", "metrics.internal")
    assert config.drivers.allow_author_commands is False
    assert runner.invoke(app, [*args, "--allow-author-commands"]).exit_code == 0
    assert started[-1].drivers.allow_author_commands is True


@pytest.mark.parametrize("entry", ["169.254.10.0/33", "10.0.0.300", "two words", ""])
def test_a_bad_allowlist_entry_is_refused(started: list[Any], entry: str) -> None:
    result = runner.invoke(app, ["operator", "-n", "shop", "--egress-allow", entry])
    assert result.exit_code == 2
    assert "--egress-allow" in result.output
    assert started == [], "nothing started"


def test_a_tokens_file_is_watched_and_one_without_users_is_refused(
    started: list[Any], tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.yaml"
    vera = {"name": "vera", "roles": ["viewer"], "tokens": [hash_token("t")]}
    tokens.write_text(yaml.safe_dump({"users": [vera]}))
    result = runner.invoke(app, ["operator", "-n", "shop", "--tokens-file", str(tokens)])
    assert result.exit_code == 0, result.output
    [config] = started
    assert isinstance(config.tokens, TokensAccess) and list(config.tokens.config.users) == ["vera"]
    tokens.write_text(yaml.safe_dump({"users": []}))
    assert list(config.tokens.config.users) == [], "re-read: the file changed"
    result = runner.invoke(app, ["operator", "-n", "shop", "--tokens-file", str(tokens)])
    assert result.exit_code == 2
    assert "--tokens-file" in result.output and "names no users" in result.output
    assert len(started) == 1, "nothing started"
    assert runner.invoke(app, ["operator", "-n", "shop"]).exit_code == 0
    assert started[-1].tokens is None, "no file: Kubernetes tokens"
