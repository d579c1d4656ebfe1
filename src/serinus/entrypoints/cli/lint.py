"""`serinus lint FILE`: validate a Rollout or an AnalysisTemplate without running anything."""

from __future__ import annotations

from pathlib import Path

import typer

from serinus.core.analysis.spec import load_template
from serinus.core.documents import load_rollout, parse_text
from serinus.core.errors import InvalidInput
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import console, fail


@app.command()
def lint(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Rollout or AnalysisTemplate, YAML or JSON."
    ),
) -> None:
    """Validate a spec (conditions and references included); every problem names its field path."""
    text = file.read_text()
    try:
        data = parse_text(text, str(file))
        if isinstance(data, dict) and data.get("kind") == "AnalysisTemplate":
            template = load_template(text, source=str(file))
            metrics = ", ".join(metric.name for metric in template.spec.metrics)
            console.print(
                f"[green]ok[/] {file}: AnalysisTemplate [bold]{template.metadata.name}[/] "
                f"(metrics: {metrics})"
            )
            return
        rollout = load_rollout(text, source=str(file))
    except InvalidInput as exc:
        fail(str(exc), code=2)
    console.print(
        f"[green]ok[/] {file}: Rollout [bold]{rollout.name}[/] "
        f"({rollout.spec.strategy.kind}, {rollout.spec.traffic_routing.kind}, "
        f"version {rollout.spec.version})"
    )
