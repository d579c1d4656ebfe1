"""`serinus analyze run TEMPLATE.yaml [--arg k=v]`: run an AnalysisTemplate once, live.

It measures through the real providers (Prometheus, web, command), following the template's
`initialDelay`, `interval` and `count`, prints each measurement as it is taken and then the outcome.
Metrics with an interval and no count run until `--max-duration` (then count as terminated).

Exit codes: 0 Successful, 3 Inconclusive (a person must decide), 4 Failed, 5 Error (a provider
kept failing), 2 bad input (unreadable or invalid template, missing or malformed argument).
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from serinus.app.analysis import default_providers, run_analysis
from serinus.core.analysis.run import (
    AnalysisPhase,
    AnalysisRunState,
    Measurement,
)
from serinus.core.analysis.spec import AnalysisTemplate, Metric, load_template
from serinus.core.errors import InvalidInput
from serinus.core.spec_base import parse_duration
from serinus.entrypoints.cli.analyze import BAD_INPUT, OutputFormat, analyze_app
from serinus.entrypoints.cli.output import console, fail, print_json
from serinus.entrypoints.cli.sequential_text import look_value, sequential_condition

EXIT_CODES = {
    AnalysisPhase.SUCCESSFUL: 0,
    AnalysisPhase.INCONCLUSIVE: 3,
    AnalysisPhase.FAILED: 4,
    AnalysisPhase.ERROR: 5,
}
_STYLE = {
    "Successful": "green",
    "Failed": "red",
    "Error": "red",
    "Inconclusive": "yellow",
    "Running": "cyan",
    "Pending": "dim",
}
MAX_SHOWN_VALUES = 5


def parse_args(pairs: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    problems = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            problems.append(f"--arg {pair!r}: expected NAME=VALUE")
        else:
            args[name.strip()] = value
    if problems:
        raise InvalidInput(problems, "arguments")
    return args


def _styled(phase: str) -> str:
    return f"[{_STYLE.get(phase, 'white')}]{phase}[/]"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return f"{value:.4g}"


def describe_value(measurement: Measurement) -> str:
    look = look_value(measurement)
    if look is not None:
        return look
    details = measurement.details
    if "classification" in details:
        parts = [str(details["classification"])]
        p_value = details.get("pValue")
        if isinstance(p_value, float):
            parts.append(f"p={p_value:.3g}")
        low, high = details.get("ciLow"), details.get("ciHigh")
        if isinstance(low, float) and isinstance(high, float):
            parts.append(f"shift in [{low:.3g}, {high:.3g}]")
        return " ".join(parts)
    if not measurement.value:
        return "(empty)"
    shown = ", ".join(_number(v) for v in measurement.value[:MAX_SHOWN_VALUES])
    more = len(measurement.value) - MAX_SHOWN_VALUES
    return f"[{shown}{f', ... {more} more' if more > 0 else ''}]"


def _condition(metric: Metric) -> str:
    if metric.comparison is not None:
        return f"comparison ({metric.comparison.canary_config.direction.value})"
    if metric.sequential is not None:
        return sequential_condition(metric.sequential)
    parts = []
    if metric.success_condition:
        parts.append(f"success: {metric.success_condition}")
    if metric.failure_condition:
        parts.append(f"failure: {metric.failure_condition}")
    return "; ".join(parts)


class _LivePrinter:
    """Prints every measurement once, as it lands in the state."""

    def __init__(self) -> None:
        self._printed: dict[str, int] = {}

    def __call__(self, state: AnalysisRunState) -> None:
        for result in state.metrics:
            total = result.count + result.error
            new = total - self._printed.get(result.name, 0)
            for measurement in result.measurements[-new:] if new > 0 else []:
                offset = measurement.at - state.started_at
                message = f"  {escape(measurement.message)}" if measurement.message else ""
                # a sequential look's message already says its evidence, boundary and counts
                said = measurement.message and look_value(measurement) is not None
                value = "" if said else f"{escape(describe_value(measurement))} "
                console.print(
                    f"[dim]+{offset:6.1f}s[/] [bold]{escape(result.name)}[/] "
                    f"{value}{_styled(measurement.phase.value)}{message}"
                )
            self._printed[result.name] = total


def render(template: AnalysisTemplate, state: AnalysisRunState) -> None:
    table = Table(title=f"Analysis {template.name}", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("metric", overflow="fold")
    table.add_column("condition", overflow="fold")
    table.add_column("last value", overflow="fold")
    table.add_column("ok/fail/inc/err", justify="right", no_wrap=True)
    table.add_column("outcome", overflow="fold")
    for metric in template.spec.metrics:
        result = state.result(metric.name)
        last = result.last
        outcome = _styled(result.phase.value)
        if result.dry_run:
            outcome += " [dim](dryRun)[/]"
        if result.message:
            outcome += f"\n[dim]{escape(result.message)}[/]"
        table.add_row(
            escape(metric.name),
            escape(_condition(metric)),
            escape(describe_value(last)) if last is not None else "-",
            f"{result.successful}/{result.failed}/{result.inconclusive}/{result.error}",
            outcome,
        )
    console.print(table)
    message = f", {escape(state.message)}" if state.message else ""
    console.print(f"outcome: [bold]{_styled(state.phase.value)}[/]{message}")


@analyze_app.command("run")
def run_command(
    template_file: Path = typer.Argument(..., help="AnalysisTemplate YAML or JSON."),
    arg: list[str] = typer.Option(
        [], "--arg", help="A template argument NAME=VALUE (repeatable); overrides defaults."
    ),
    output: OutputFormat = typer.Option(
        OutputFormat.TABLE, "--output", "-o", help="table or json."
    ),
    max_duration: str = typer.Option(
        "10m",
        "--max-duration",
        help="Stop after this long (e.g. 90s, 10m); metrics without a count end here.",
    ),
) -> None:
    """Run an analysis template once against live providers; print each measurement and outcome.

    Exit code: 0 Successful, 3 Inconclusive, 4 Failed, 5 Error, 2 bad input.
    """
    try:
        text = template_file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read template {template_file}: {exc}", BAD_INPUT)
    try:
        duration = parse_duration(max_duration)
    except ValueError as exc:
        fail(f"--max-duration: {exc}", BAD_INPUT)
    try:
        template = load_template(text, source=str(template_file))
        args = parse_args(arg)
        state = asyncio.run(
            run_analysis(
                template.spec,
                args,
                default_providers(),
                clock=time.time,
                max_duration=duration,
                name=template.name,
                on_update=_LivePrinter() if output is OutputFormat.TABLE else None,
            )
        )
    except InvalidInput as exc:
        fail(str(exc), BAD_INPUT)
    if output is OutputFormat.JSON:
        print_json(state.to_storage())
    else:
        render(template, state)
    raise typer.Exit(EXIT_CODES.get(state.phase, 1))
