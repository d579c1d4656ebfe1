"""The typer app behind `serinus`: a group that imports each command's module on first use.

`serinus --help` lists every command from the summaries in `main.COMMANDS` without importing any
of them; a command whose optional dependencies are missing answers with one line naming the
extra to install. Command modules register on `app` (`from serinus.entrypoints.cli.main import
app` reaches it).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from serinus.entrypoints.cli.main import COMMANDS, Entry, missing_extra


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
