"""The `serinus` command: a thin layer over app/ that parses arguments and renders results.

Start-up is most of what a command like `serinus abort web` costs, so nothing heavy loads before
it is needed. The operations on a local rollout take the fast path first (`fast_path`: the
standard library only, the same record written); everything else, and every case the fast path
is not sure of, goes to the typer app (`group`). There commands load lazily: `serinus get`
imports the module that defines get and nothing else (not the engine, the API or scipy), and
`serinus --help` lists every command from the summaries below without importing any of them.
A command whose optional dependencies are missing answers with one line naming the extra.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serinus.entrypoints.cli.group import app

__all__ = ["COMMANDS", "Entry", "app", "main", "missing_extra"]


@dataclass(frozen=True)
class Entry:
    modules: tuple[str, ...]  # imported (in order) to register the command on `app`
    summary: str  # the first line of the command's help, shown by `serinus --help`
    extra: str | None = None  # the pip extra that provides `needs`
    needs: tuple[str, ...] = ()  # top-level modules the command cannot run without


_CLI = "serinus.entrypoints.cli."
_ROLLOUTS = (_CLI + "rollouts",)
_OPERATE = (_CLI + "operate",)
_STATUS = (_CLI + "status",)
COMMANDS: dict[str, Entry] = {
    "run": Entry(
        _ROLLOUTS, "Start or continue a rollout and drive it in the foreground with a live view."
    ),
    "get": Entry(_STATUS, "Show a rollout as a tree: revisions, replicas, weights and the step."),
    "status": Entry(
        _STATUS, "Wait for a rollout to finish and exit with its outcome's code (for CI)."
    ),
    "list": Entry(_STATUS, "List rollouts with their phase and weights."),
    "history": Entry(
        (_CLI + "history",),
        "Show every operation on a rollout, with its inputs and outcome, then its events.",
    ),
    "delete": Entry(_ROLLOUTS, "Stop a rollout's replicas and HAProxy and forget it."),
    "promote": Entry(_OPERATE, "End the current pause (or, with --full, promote at once)."),
    "abort": Entry(_OPERATE, "Send all traffic back to the stable version at once."),
    "retry": Entry(_OPERATE, "Start an aborted or failed rollout's steps again."),
    "undo": Entry(_OPERATE, "Roll out the previous version again."),
    "pause": Entry(_OPERATE, "Hold the rollout at its current step."),
    "resume": Entry(_OPERATE, "Continue a rollout a user paused."),
    "judge": Entry(_OPERATE, "Decide a pending judgement."),
    "lint": Entry(
        (_CLI + "lint",),
        "Validate a spec (conditions and references included); every problem names its field path.",
    ),
    "import": Entry(
        (_CLI + "importing",),
        "Convert Argo Rollouts and Flagger manifests into serinus Rollouts, with a report.",
    ),
    "plan": Entry(
        (_CLI + "plan",), "Show every action a rollout would take from its current state."
    ),
    "shift": Entry((_CLI + "shift",), "Rebalance the HTTP route weights of Istio VirtualServices."),
    "analyze": Entry(
        (_CLI + "analyze", _CLI + "analyze_run"),
        "Canary analysis: judge canary samples against baseline samples.",
    ),
    "serve": Entry(
        (_CLI + "serve",),
        "Serve the REST API and the web dashboard for the rollouts in the state directory.",
        extra="api",
        needs=("fastapi", "uvicorn"),
    ),
    "token": Entry(
        (_CLI + "serve",),
        "Create API tokens for `serinus serve` (only hashes are stored).",
        extra="api",
        needs=("fastapi",),
    ),
    "demo": Entry(
        (_CLI + "demo",),
        "Roll v2 out under load with Blue-Green + Canary, then catch faulty v3 and roll it back.",
        extra="api",
        needs=("fastapi", "uvicorn"),
    ),
    "operator": Entry(
        ("serinus.entrypoints.operator.command",),
        "Run the Kubernetes operator: drive every Rollout it watches with the engine.",
        extra="kubernetes",
        needs=("kubernetes",),
    ),
}


def missing_extra(entry: Entry) -> str | None:
    """The module of `entry.needs` that is not installed, or None when all are."""
    for module in entry.needs:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def __getattr__(name: str) -> Any:
    """`app` (the typer app), loaded on first use: `main()` may never need typer at all."""
    if name == "app":
        from serinus.entrypoints.cli.group import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register() -> None:
    """Import every command at once (tests driving `app` with a CliRunner call this)."""
    for entry in COMMANDS.values():
        if missing_extra(entry) is None:
            for module in entry.modules:
                importlib.import_module(module)


def main() -> None:
    from serinus.entrypoints.cli.fast_path import handled

    code = handled(sys.argv[1:])
    if code is not None:
        raise SystemExit(code)
    from serinus.entrypoints.cli.group import app

    app()
