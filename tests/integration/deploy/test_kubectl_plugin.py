"""bin/kubectl-serinus: kubectl runs plugins as executables named kubectl-<name> on PATH.

Run as kubectl would run it (a child process with the arguments after `kubectl serinus`), it
must hand them to `serinus`. SERINUS points it at this interpreter's serinus, so the test
needs no installed console script.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PLUGIN = Path(__file__).resolve().parents[3] / "bin" / "kubectl-serinus"


def run_plugin(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SERINUS": f"{sys.executable} -m serinus.entrypoints.cli"}
    return subprocess.run(
        [str(PLUGIN), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_plugin_is_executable_and_named_for_kubectl() -> None:
    assert PLUGIN.name.startswith("kubectl-")
    assert PLUGIN.stat().st_mode & stat.S_IXUSR


def test_kubectl_serinus_help_is_serinus_help() -> None:
    done = run_plugin("--help")

    assert done.returncode == 0, done.stderr
    assert "Blue-Green + Canary rollouts" in done.stdout
    assert "shift" in done.stdout


def test_arguments_and_exit_status_pass_through() -> None:
    done = run_plugin("shift", "--target-service", "new-server", "--percentage", "10")

    assert done.returncode == 1
    assert "give exactly one of -f/--filename" in " ".join(done.stderr.split())
