"""The `serinus` command: a thin layer over app/ that parses arguments and renders results."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="serinus",
    help="Blue-Green + Canary rollouts: shift traffic step by step, judge, promote or roll back.",
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
    # Each module adds its commands to `app`; imported here so `serinus --help` lists them all.
    from serinus.entrypoints.cli import (  # noqa: F401
        demo,
        lint,
        operate,
        rollouts,
        serve,
        shift,
    )
    from serinus.entrypoints.cli.analyze import analyze_app

    app.add_typer(analyze_app, name="analyze")
    from serinus.entrypoints.cli import analyze_run  # noqa: F401  (adds to analyze_app)
    from serinus.entrypoints.operator import command  # noqa: F401


def main() -> None:
    _register()
    app()
