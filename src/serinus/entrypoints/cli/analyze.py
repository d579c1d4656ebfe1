"""`serinus analyze`: canary analysis from the command line; here `analyze compare`.

Exit codes of `analyze compare`, so CI pipelines can branch on the verdict:
0 Pass, 3 Marginal, 4 Fail, 2 bad input (unreadable or malformed config or data).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from serinus.core.errors import InvalidInput
from serinus.core.judge.canary_config import parse_canary_config
from serinus.core.judge.comparison import compare
from serinus.core.judge.report import Classification, JudgeReport, Verdict
from serinus.core.judge.samples import parse_samples
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import console, fail, print_json

analyze_app = typer.Typer(
    help="Canary analysis: judge canary samples against baseline samples.",
    no_args_is_help=True,
)
app.add_typer(analyze_app, name="analyze")

EXIT_CODES = {Verdict.PASS: 0, Verdict.MARGINAL: 3, Verdict.FAIL: 4}
BAD_INPUT = 2


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        fail(escape(f"cannot read {what} {path}: {exc.strerror}"), BAD_INPUT)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(escape(f"{what} {path} is not valid JSON: {exc}"), BAD_INPUT)


_STYLE = {
    Classification.PASS: "green",
    Classification.HIGH: "red",
    Classification.LOW: "red",
    Classification.NODATA: "yellow",
    Classification.NODATA_FAIL_METRIC: "red",
    Classification.ERROR: "red",
}
_VERDICT_STYLE = {
    Verdict.PASS: "bold green",
    Verdict.MARGINAL: "bold yellow",
    Verdict.FAIL: "bold red",
}


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _render(report: JudgeReport) -> None:
    table = Table(title="Canary analysis", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("metric", overflow="fold")
    table.add_column("result", overflow="fold")
    for column in ("p-value", "shift", "interval", "effect", "n b/c"):
        table.add_column(column, justify="right", no_wrap=True)
    for metric in report.metrics:
        data = metric.to_json()
        label = f"[{_STYLE[metric.classification]}]{metric.classification.value}[/]"
        if metric.critical:
            label += " [bold red](critical)[/]"
        if metric.muted:
            label += " [dim](muted)[/]"
        interval = "-"
        if data["ciLow"] is not None:
            interval = f"{_number(data['ciLow'])}..{_number(data['ciHigh'])}"
        table.add_row(
            escape(metric.name),
            label,
            _number(data["pValue"]),
            _number(data["estimate"]),
            interval,
            _number(data["effectSize"]),
            f"{metric.baseline_count}/{metric.canary_count}",
        )
    console.print(table)
    for metric in report.metrics:
        console.print(f"[bold]{escape(metric.name)}[/]: {escape(metric.reason)}")
    groups = ", ".join(f"{escape(name)} {_number(score)}" for name, score in report.groups.items())
    console.print(f"groups: {groups or '-'}")
    style = _VERDICT_STYLE[report.verdict]
    console.print(f"verdict: [{style}]{report.verdict.value}[/], {escape(report.reason)}")


@analyze_app.command("compare")
def compare_command(
    config: Path = typer.Option(..., "--config", help="Kayenta canary-config JSON."),
    data: Path = typer.Option(
        ...,
        "--data",
        help='JSON mapping each metric to {"baseline": [...], "canary": [...]}; null is NaN.',
    ),
    output: OutputFormat = typer.Option(
        OutputFormat.TABLE, "--output", "-o", help="table or json."
    ),
) -> None:
    """Judge canary samples against baseline samples with a Kayenta canary config.

    Per metric: the classification, the two-sided Mann-Whitney p-value, the statistic (U of the
    canary sample), the shift estimate canary - baseline with its interval, the effect size and
    the sample counts after cleaning. Exit code: 0 Pass, 3 Marginal, 4 Fail, 2 bad input.
    """
    try:
        canary_config = parse_canary_config(_read_json(config, "config"), source=str(config))
        samples = parse_samples(_read_json(data, "data"))
    except InvalidInput as exc:
        fail(escape(str(exc)), BAD_INPUT)
    report = compare(canary_config, samples)
    if output is OutputFormat.JSON:
        print_json(report.to_json())
    else:
        _render(report)
    raise typer.Exit(EXIT_CODES[report.verdict])
