"""`serinus import FILE...`: Argo Rollouts / Flagger manifests -> serinus Rollouts and a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from serinus.app.importing import ImportResult, Outcome, RouterChoice, import_documents
from serinus.core.errors import InvalidInput
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import err_console, fail

_STYLE = {
    Outcome.TRANSLATED: "green",
    Outcome.DIFFERS: "yellow",
    Outcome.UNSUPPORTED: "magenta",
    Outcome.ERROR: "red",
}


@app.command("import")
def import_(
    files: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help="Argo Rollouts or Flagger manifests (YAML/JSON)."
    ),
    output: str = typer.Option("yaml", "--output", "-o", help="yaml or json."),
    router: str | None = typer.Option(
        None,
        "--router",
        help="KIND:NAME (istio, gateway-api or nginx) for sources whose router serinus lacks.",
    ),
    prometheus: str = typer.Option(
        "http://prometheus.istio-system:9090",
        "--prometheus",
        help="Prometheus address for Flagger's built-in metrics.",
    ),
    report_file: Path | None = typer.Option(
        None, "--report", help="Also write the report as JSON to this file."
    ),
) -> None:
    """Convert Argo Rollouts and Flagger manifests into serinus Rollouts, with a report.

    Rollouts go to stdout; the report (every field translated, not supported, or behaving
    differently) to stderr. Exits 1 when a document could not be converted.
    """
    if output not in ("yaml", "json"):
        fail(f"--output: {output!r} is not yaml or json", code=2)
    try:
        choice = RouterChoice.parse(router) if router is not None else None
        documents = [doc for file in files for doc in _read(file)]
    except InvalidInput as exc:
        fail(str(exc), code=2)
    result = import_documents(documents, choice, prometheus)
    if output == "json":
        typer.echo(json.dumps(result.documents, indent=2))
    elif result.documents:
        typer.echo(yaml.safe_dump_all(result.documents, sort_keys=False), nl=False)
    _print_report(result)
    if report_file is not None:
        findings = [finding.as_dict() for finding in result.report.findings]
        report_file.write_text(json.dumps(findings, indent=2) + "\n")
    if result.report.failed:
        raise typer.Exit(1)


def _read(file: Path) -> list[dict[str, Any]]:
    try:
        loaded = list(yaml.safe_load_all(file.read_bytes().decode("utf-8")))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        problem = str(exc).splitlines()[0]
        raise InvalidInput([f"not valid UTF-8 YAML or JSON: {problem}"], str(file)) from exc
    documents = []
    for index, document in enumerate(loaded):
        if document is None:
            continue
        if not isinstance(document, dict):
            raise InvalidInput([f"document {index + 1}: expected a mapping"], str(file))
        documents.append(document)
    return documents


def _print_report(result: ImportResult) -> None:
    table = Table(title="serinus import report", show_lines=False, expand=False)
    for column in ("source", "field", "outcome", "note"):
        table.add_column(column, overflow="fold")
    for finding in result.report.findings:
        style = _STYLE[finding.outcome]
        table.add_row(
            escape(finding.source),
            escape(finding.field),
            f"[{style}]{finding.outcome.value}[/]",
            escape(finding.note),
        )
    err_console.print(table)
