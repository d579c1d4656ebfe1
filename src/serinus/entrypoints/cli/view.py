"""Rendering a rollout for people: phase, step, a weight bar per version, replicas, events."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from serinus.core.events import Event, Severity
from serinus.core.spec import Rollout
from serinus.core.status import COLORS, Color, Phase, RolloutStatus
from serinus.core.strategy.plan import plan_for

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


def describe_step(rollout: Rollout, index: int) -> str:
    steps = plan_for(rollout.spec).steps
    if not steps:
        return rollout.spec.strategy.kind
    if index >= len(steps):
        return f"all {len(steps)} steps done"
    step = steps[index]
    detail = step.model_dump(by_alias=True, exclude_none=True)[step.kind]
    shown = "" if detail in ({}, None) else f" {detail}"
    return f"step {index + 1}/{len(steps)}: {step.kind}{shown}"


def weight_rows(status: RolloutStatus) -> list[tuple[Color, str, int, str]]:
    """(color, version, weight, replicas) for each color that runs something."""
    rows = []
    for color in COLORS:
        version = status.version_of(color)
        if version is None:
            continue
        role = "stable" if status.stable and status.stable.color == color else "canary"
        if status.canary is None and role == "canary":
            role = "old"
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
        header.append(f"  {describe_step(rollout, status.step_index)}")
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
    if error:
        parts.append(Text(f"error: {error}", style="bold red"))
    if events:
        log = Table.grid(padding=(0, 1))
        for event in events[-8:]:
            log.add_row(
                Text(time.strftime("%H:%M:%S", time.localtime(event.at)), style="dim"),
                Text(event.message, style=SEVERITY_STYLE[event.severity]),
            )
        parts.append(log)
    return Panel(Group(*parts), title=f"serinus · {rollout.name}", expand=False)


def status_json(rollout: Rollout, status: RolloutStatus | None) -> dict[str, Any]:
    return {
        "name": rollout.name,
        "version": rollout.spec.version,
        "strategy": rollout.spec.strategy.kind,
        "status": status.to_storage() if status else None,
        "step": describe_step(rollout, status.step_index) if status else None,
    }


def event_json(event: Event) -> dict[str, Any]:
    return {**event.model_dump(mode="json"), "severity": event.severity.value}
