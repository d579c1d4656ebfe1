"""The command provider: exit codes, numbers on stdout, failures and timeouts."""

from __future__ import annotations

import sys
from typing import Any

import psutil
import pytest

from serinus.adapters.metrics.command import CommandProvider, parse_numbers
from serinus.core.analysis.spec import CommandSource
from serinus.core.errors import MetricsError

PY = sys.executable


def command(*argv: str, **fields: Any) -> CommandSource:
    return CommandSource.model_validate({"command": list(argv), **fields})


async def test_exit_code_mode() -> None:
    provider = CommandProvider()
    assert await provider.measure(command(PY, "-c", "pass")) == [1.0]
    assert await provider.measure(command(PY, "-c", "raise SystemExit(3)")) == [0.0]


async def test_stdout_mode_reads_numbers() -> None:
    provider = CommandProvider()
    printed = command(PY, "-c", "print('0.5, 1\\n2e3')", output="stdout")
    assert await provider.measure(printed) == [0.5, 1.0, 2000.0]
    as_json = command(PY, "-c", "print('[1, null, 3]')", output="stdout")
    values = await provider.measure(as_json)
    assert values[0] == 1.0 and values[1] != values[1] and values[2] == 3.0
    silent = command(PY, "-c", "pass", output="stdout")
    assert await provider.measure(silent) == []  # no data, left to the run logic


async def test_environment_is_passed() -> None:
    source = command(
        PY, "-c", "import os; print(os.environ['LEVEL'])", output="stdout", env={"LEVEL": "7"}
    )
    assert await CommandProvider().measure(source) == [7.0]


async def test_failures_are_metrics_errors() -> None:
    provider = CommandProvider()
    with pytest.raises(MetricsError, match="exit code 2: boom"):
        script = "import sys; sys.stderr.write('boom'); sys.exit(2)"
        await provider.measure(command(PY, "-c", script, output="stdout"))
    with pytest.raises(MetricsError, match="output is not numbers"):
        await provider.measure(command(PY, "-c", "print('fine')", output="stdout"))
    with pytest.raises(MetricsError, match="cannot start"):
        await provider.measure(command("/nonexistent/serinus-check"))


async def test_a_command_past_its_timeout_is_killed() -> None:
    source = command(PY, "-c", "import time; time.sleep(30)", timeout=0.3)
    with pytest.raises(MetricsError, match=r"still running after 0\.3s; killed"):
        await CommandProvider().measure(source)
    sleepers = [
        p
        for p in psutil.Process().children(recursive=True)
        if "time.sleep(30)" in " ".join(p.cmdline())
    ]
    assert sleepers == []


def test_parse_numbers() -> None:
    assert parse_numbers(" 1 2\t3 ", "x") == [1.0, 2.0, 3.0]
    assert parse_numbers("4.5", "x") == [4.5]
    assert parse_numbers("", "x") == []
    with pytest.raises(MetricsError):
        parse_numbers('{"a": 1}', "x")
