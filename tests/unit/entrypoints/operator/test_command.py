"""`serinus operator`: the trust options reach the drivers; bad allowlist entries are refused."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

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
