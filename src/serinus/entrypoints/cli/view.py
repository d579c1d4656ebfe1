"""Rendering a rollout for people: phase, step, a weight bar per version, replicas, events."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from serinus.core.analysis.run import AnalysisPhase, Measurement, MeasurementPhase, MetricResult
from serinus.core.analysis.spec import Metric
from serinus.core.analysis.templating import render_text
from serinus.core.errors import InvalidInput
from serinus.core.events import Event, Severity
from serinus.core.spec import Rollout
from serinus.core.status import COLORS, Color, Phase, RolloutStatus
from serinus.entrypoints.cli.sequential_text import look_value, sequential_condition
from serinus.entrypoints.cli.steps import position
from serinus.entrypoints.cli.window_text import outage_line, window_line

PHASE_STYLE = {
    Phase.COMPLETED: "bold green",
    Phase.ABORTED: "bold red",
    Phase.FAILED: "bold red",
    Phase.AWAITING_JUDGEMENT: "bold yellow",
    Phase.PAUSED: "yellow",
}
SEVERITY_STYLE = {
    Severity.ERROR: "red",
    Severity.WARNING: "yellow",
    Severity.SUCCESS: "green",
    Severity.INFO: "",
}
COLOR_STYLE: dict[Color, str] = {"blue": "blue", "green": "green"}
BAR_WIDTH = 40
ANALYSIS_STYLE = {
    AnalysisPhase.SUCCESSFUL: "green",
    AnalysisPhase.FAILED: "bold red",
    AnalysisPhase.ERROR: "red",
    AnalysisPhase.INCONCLUSIVE: "yellow",
}
SHOWN_VALUES = 3


def weight_rows(status: RolloutStatus) -> list[tuple[Color, str, int, str]]:
    """(color, version, weight, replicas) for each color that runs something."""
    rows = []
    for color in COLORS:
        version = status.version_of(color)
        if version is None:
            continue
        role = "stable" if status.stable and status.stable.color == color else "canary"
        if status.canary is None and role == "canary":
            window = status.rollback_window
            role = "kept" if window is not None and window.version == version else "old"
        desired = status.replicas.get(color, 0)
        ready = status.ready.get(color, 0)
        rows.append(
            (color, f"{version} ({role})", status.weights.get(color, 0), f"{ready}/{desired}")
        )
    return rows


def weight_bar(weight: int, style: str) -> Text:
    filled = round(BAR_WIDTH * weight / 100)
    bar = Text("█" * filled, style=style)
    bar.append("░" * (BAR_WIDTH - filled), style="dim")
    return bar


def render(
    rollout: Rollout,
    status: RolloutStatus | None,
    events: Sequence[Event] = (),
    error: str | None = None,
) -> RenderableType:
    if status is None:
        return Panel(Text(f"{rollout.name}: not started yet"), title=rollout.name)
    header = Text()
    header.append(f"{rollout.name}", style="bold")
    header.append(f"  {rollout.spec.strategy.kind}  ")
    header.append(str(status.phase), style=PHASE_STYLE.get(status.phase, "cyan"))
    if status.canary is not None:
        header.append(f"  {position(rollout, status, time.time())}")
    table = Table.grid(padding=(0, 2))
    for color, label, weight, replicas in weight_rows(status):
        table.add_row(
            Text(label, style=COLOR_STYLE[color]),
            weight_bar(weight, COLOR_STYLE[color]),
            Text(f"{weight:>3}%"),
            Text(f"{replicas} ready"),
        )
    parts: list[RenderableType] = [header, table]
    if status.message:
        parts.append(Text(status.message, style="italic"))
    now = time.time()
    for line in (
        outage_line(status, now),
        window_line(status, rollout.spec.workload.replicas, now),
    ):
        if line is not None:
            parts.append(Text(line, style="cyan"))
    if error:
        parts.append(Text(f"error: {error}", style="bold red"))
    if status.analysis is not None:
        parts.append(analysis_table(status, rollout))
    if events:
        log = Table.grid(padding=(0, 1))
        for event in events[-8:]:
            log.add_row(
                Text(time.strftime("%H:%M:%S", time.localtime(event.at)), style="dim"),
                Text(event.message, style=SEVERITY_STYLE[event.severity]),
            )
        parts.append(log)
    return Panel(Group(*parts), title=f"serinus · {rollout.name}", expand=False)


def _metric_spec(rollout: Rollout | None, name: str) -> Metric | None:
    for template in rollout.spec.analysis_templates if rollout is not None else []:
        for metric in template.metrics:
            if metric.name == name:
                return metric
    return None


def _condition(metric: Metric | None, args: dict[str, str]) -> str:
    """The metric's conditions with the run's arguments filled in (as they were judged)."""
    if metric is None:
        return "-"
    if metric.comparison is not None:
        config = metric.comparison.canary_config
        level = metric.comparison.judge.confidence_level
        return f"judge: {config.direction.value}, confidence {level:g}"
    if metric.sequential is not None:
        return sequential_condition(metric.sequential)
    parts = []
    for label, text in (
        ("success", metric.success_condition),
        ("failure", metric.failure_condition),
    ):
        if text is None:
            continue
        with contextlib.suppress(InvalidInput):  # unknown variable: shown as written
            text = render_text(text, args, label)
        parts.append(f"{label}: {text}")
    return "; ".join(parts)


def _figure(value: float | str | None) -> str:
    return f"{value:.3g}" if isinstance(value, float) else "-"


def _last_value(measurement: Measurement | None) -> str:
    if measurement is None:
        return "-"
    look = look_value(measurement)
    if look is not None:
        return look
    details = measurement.details
    if "classification" in details:
        low, high = details.get("ciLow"), details.get("ciHigh")
        interval = f"[{_figure(low)}, {_figure(high)}]"
        return (
            f"{details['classification']}  p={_figure(details.get('pValue'))}  shift in {interval}"
        )
    if not measurement.value:
        return "(error)" if measurement.phase is MeasurementPhase.ERROR else "(no data)"
    shown = ", ".join(f"{v:.4g}" for v in measurement.value[:SHOWN_VALUES])
    more = len(measurement.value) - SHOWN_VALUES
    return f"[{shown}{f', +{more}' if more > 0 else ''}]"


def _outcome(result: MetricResult) -> Text:
    text = Text(result.phase.value, style=ANALYSIS_STYLE.get(result.phase, "cyan"))
    if result.dry_run:
        text.append(" (dryRun)", style="dim")
    counts = f" {result.successful}/{result.failed}/{result.inconclusive}/{result.error}"
    text.append(counts, style="dim")
    last = result.last
    if result.message or (last is not None and last.message):
        text.append(f"\n{result.message or (last.message if last else '')}", style="dim")
    return text


def analysis_table(status: RolloutStatus, rollout: Rollout | None = None) -> Table:
    """The analysis run: per metric its last value (for a comparison: the judge's
    classification, p-value and shift interval), its condition and its outcome
    (ok/failed/inconclusive/error counts). `rollout` supplies the conditions."""
    run = status.analysis
    assert run is not None, "analysis_table needs a status with an analysis run"
    title = Text(f"analysis {run.name}: ")
    title.append(run.phase.value, style=ANALYSIS_STYLE.get(run.phase, "cyan"))
    table = Table("METRIC", "LAST VALUE", "CONDITION", "OUTCOME ok/fail/inc/err", title=title)
    for result in run.metrics:
        table.add_row(
            result.name,
            _last_value(result.last),
            _condition(_metric_spec(rollout, result.name), run.args),
            _outcome(result),
        )
    if run.message:
        table.caption = run.message
    return table
