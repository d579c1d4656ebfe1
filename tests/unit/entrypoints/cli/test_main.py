"""The `serinus` command loads lazily: each command imports only what it uses, `--help` lists
every command without importing any, and a command whose extra is missing says which one."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
import typer

from serinus.core.status import Phase, Revision, RolloutStatus
from serinus.entrypoints.cli import main

if TYPE_CHECKING:
    from conftest import State

JUDGING = RolloutStatus(
    phase=Phase.AWAITING_JUDGEMENT,
    stable=Revision(version="v1", color="blue"),
    canary=Revision(version="v2", color="green"),
    step_index=1,
)

HEAVY = ("fastapi", "uvicorn", "scipy", "kopf", "kubernetes", "serinus.app.engine", "serinus.demo")
# Runs `serinus ARGS` in a fresh interpreter and prints which of HEAVY it imported.
PROBE = """
import json, sys
from serinus.entrypoints.cli.main import main
heavy = json.loads(sys.argv[2])
sys.argv = ["serinus", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
"""
# Hides modules from imports, as a `pip install serinus` without extras would.
WITHOUT = """
import sys
for name in ("fastapi", "uvicorn", "kopf", "kubernetes", "starlette"):
    sys.modules[name] = None  # importing it fails as if it was not installed
from serinus.entrypoints.cli.main import main
sys.argv = ["serinus", *sys.argv[1:]]
main()
"""


def imported_by(*args: str, state: State) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True, text=True, timeout=120, check=False,
        env={"SERINUS_STATE_DIR": str(state.folder), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return list(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [
        ["abort", "web"],
        ["promote", "web"],
        ["judge", "web", "--approve"],
        ["get", "web"],
        ["status", "web", "--no-wait"],
        ["history", "web"],
        ["--help"],
    ],
    ids=lambda args: args[0],
)
def test_light_commands_import_neither_the_engine_nor_the_api_nor_scipy(
    args: list[str], state: State
) -> None:
    state.put(JUDGING)

    assert imported_by(*args, state=state) == []


def test_every_command_is_listed_with_its_own_first_help_line() -> None:
    main._register()
    group = typer.main.get_command(main.app)
    assert isinstance(group, typer.core.TyperGroup)

    for name, entry in main.COMMANDS.items():
        command = group.commands[name]
        first = (command.help or "").strip().splitlines()[0]
        assert entry.summary == first, name
    assert set(group.commands) == set(main.COMMANDS)  # no command missing from the list


@pytest.mark.parametrize(
    ("args", "extra"),
    [(["serve"], "api"), (["demo"], "api"), (["operator", "-A"], "kubernetes")],
)
def test_a_missing_extra_is_one_line_naming_it(args: list[str], extra: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT, *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: serinus {args[0]} needs the {extra} extra: pip install 'serinus[{extra}]'"
    )


def test_the_cluster_mode_without_its_extra_is_one_line_naming_it(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT, "get", "web", "-n", "prod"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 1
    assert "needs the kubernetes extra: pip install 'serinus[kubernetes]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_kubectl_serinus_means_the_current_context(monkeypatch: pytest.MonkeyPatch) -> None:
    from serinus.entrypoints.cli.cluster import ClusterTarget, cluster_target

    assert cluster_target(None, None, None) is None  # plain `serinus`: the local mode
    monkeypatch.setenv("SERINUS_MODE", "cluster")
    assert cluster_target(None, None, None) == ClusterTarget()  # the kubeconfig's context
    assert cluster_target("prod", None, None) == ClusterTarget(namespace="prod")
