"""The `serinus` command: a thin layer over app/ that parses arguments and renders results.

Commands load lazily: `serinus abort` imports the module that defines abort and nothing else
(not the engine, the API or scipy), so it starts fast; `serinus --help` lists every command from
the summaries below without importing any of them. A command whose optional dependencies are
missing answers with one line naming the extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


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
        needs=("kopf", "kubernetes"),
    ),
}


def missing_extra(entry: Entry) -> str | None:
    """The module of `entry.needs` that is not installed, or None when all are."""
    for module in entry.needs:
        if importlib.util.find_spec(module) is None:
            return module
    return None


class LazyGroup(TyperGroup):
    """Resolves a command by importing its module on first use (see the module docstring)."""

    _listing = False  # True while --help is formatted: summaries only, nothing imported

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | COMMANDS.keys())

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        entry = COMMANDS.get(cmd_name)
        if found is not None or entry is None:
            return found
        if self._listing:
            return TyperCommand(name=cmd_name, help=entry.summary)
        if missing_extra(entry) is not None:
            return _needs_extra(cmd_name, entry)
        for module in entry.modules:
            importlib.import_module(module)
        command = typer.main.get_command(app)
        assert isinstance(command, TyperGroup), "the serinus app is a group"
        loaded = command.commands[cmd_name]
        self.add_command(loaded, cmd_name)
        return loaded

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _needs_extra(name: str, entry: Entry) -> TyperCommand:
    def explain() -> None:
        from serinus.entrypoints.cli.output import fail

        fail(f"serinus {name} needs the {entry.extra} extra: pip install 'serinus[{entry.extra}]'")

    return TyperCommand(
        name=name,
        help=entry.summary,
        callback=explain,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


app = typer.Typer(
    name="serinus",
    help="Blue-Green + Canary rollouts: shift traffic step by step, judge, promote or roll back.",
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    state_dir: Path | None = typer.Option(
        None,
        "--state-dir",
        envvar="SERINUS_STATE_DIR",
        help="Where the local mode keeps rollouts (default ~/.local/state/serinus).",
    ),
) -> None:
    """Blue-Green + Canary rollouts: shift traffic step by step, judge, promote or roll back."""
    from serinus.entrypoints.cli.local import configure

    configure(state_dir)


def _register() -> None:
    """Import every command at once (tests driving `app` with a CliRunner call this)."""
    for entry in COMMANDS.values():
        if missing_extra(entry) is None:
            for module in entry.modules:
                importlib.import_module(module)


def main() -> None:
    app()
