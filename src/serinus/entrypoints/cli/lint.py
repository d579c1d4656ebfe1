"""`serinus lint FILE`: validate a Rollout or an AnalysisTemplate without running anything."""

from __future__ import annotations

from pathlib import Path

import typer

from serinus.app.cluster_policy import cluster_refusals
from serinus.core.documents import MAX_DOCUMENT_BYTES
from serinus.core.errors import InvalidInput
from serinus.core.spec import Rollout, load_document
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import console, fail


@app.command()
def lint(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Rollout or AnalysisTemplate, YAML or JSON."
    ),
    cluster: bool = typer.Option(
        False,
        "--cluster",
        help="Also refuse what the operator refuses: process workloads, command metrics, "
        "author-chosen binaries and {env} secret references.",
    ),
) -> None:
    """Validate a spec (conditions and references included); every problem names its field path."""
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_DOCUMENT_BYTES + 1)  # one byte more says "too large"
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", code=2)
    try:
        document = load_document(raw, source=str(file))
        if cluster and (refusals := cluster_refusals(document)):
            raise InvalidInput([str(r) for r in refusals], f"{file} for the cluster")
    except InvalidInput as exc:
        fail(str(exc), code=2)
    if isinstance(document, Rollout):
        console.print(
            f"[green]ok[/] {file}: Rollout [bold]{document.name}[/] "
            f"({document.spec.strategy.kind}, {document.spec.traffic_routing.kind}, "
            f"version {document.spec.version})"
        )
        return
    metrics = ", ".join(metric.name for metric in document.spec.metrics)
    console.print(
        f"[green]ok[/] {file}: AnalysisTemplate [bold]{document.metadata.name}[/] "
        f"(metrics: {metrics})"
    )
