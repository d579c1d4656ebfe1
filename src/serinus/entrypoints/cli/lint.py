"""`serinus lint FILE`: validate a Rollout without running anything."""

from __future__ import annotations

from pathlib import Path

import typer

from serinus.core.documents import load_rollout
from serinus.core.errors import InvalidInput
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import console, fail


@app.command()
def lint(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Rollout YAML or JSON."),
) -> None:
    """Validate a Rollout spec; every problem names its field path."""
    try:
        rollout = load_rollout(file.read_text(), source=str(file))
    except InvalidInput as exc:
        fail(str(exc))
    console.print(
        f"[green]ok[/] {file}: Rollout [bold]{rollout.name}[/] "
        f"({rollout.spec.strategy.kind}, {rollout.spec.traffic_routing.kind}, "
        f"version {rollout.spec.version})"
    )
