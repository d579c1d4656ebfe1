"""`serinus get` as a tree, as Argo Rollouts' plugin draws one: the rollout, its revisions
(stable, canary, an old one waiting for its scale-down, or one a rollback window keeps) with
version, color, weight and replicas, the current step in words with its timers, what happens
next, and an open rollback window's cost or a router that cannot be reached.

The status records desired weights (the router follows them; when the status is converged they
were read back as such, so actual = desired) and each color's ready replica count, not one entry
per replica, so a revision's replicas are drawn as ready/not-ready marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from serinus.core.events import Event
from serinus.core.spec import Rollout
from serinus.core.status import COLORS, Color, Phase, RolloutStatus
from serinus.entrypoints.cli.clock import duration, iso_time
from serinus.entrypoints.cli.event_log import collapse
from serinus.entrypoints.cli.steps import next_action, position
from serinus.entrypoints.cli.view import COLOR_STYLE, PHASE_STYLE, SEVERITY_STYLE, weight_bar
from serinus.entrypoints.cli.window_text import outage_line, window_line
from serinus.entrypoints.describing import preview_url

READY_MARK, WAITING_MARK = "✔", "◌"
EVENTS_SHOWN, EVENTS_SHOWN_WIDE = 5, 20


@dataclass(frozen=True)
class RevisionRow:
    """What one color runs, for people: the revision's role and its share of the traffic."""

    color: Color
    version: str
    role: str  # stable, canary, preview, old (scaling down) or kept (the rollback window)
    weight: int
    desired: int
    ready: int


def revisions(status: RolloutStatus) -> list[RevisionRow]:
    """Stable first, then the canary (or the old version still scaling down)."""
    rows = []
    for color in COLORS:
        version = status.version_of(color)
        if version is None:
            continue
        if status.stable is not None and status.stable.color == color:
            role = "stable"
        elif status.canary is not None and status.canary.color == color:
            role = "preview" if status.preview == color else "canary"
        elif kept_by_window(status, color, version):
            role = "kept"
        else:
            role = "old"
        rows.append(
            RevisionRow(
                color,
                version,
                role,
                status.weights.get(color, 0),
                status.replicas.get(color, 0),
                status.ready.get(color, 0),
            )
        )
    order = {"stable": 0, "canary": 1, "preview": 1, "old": 2, "kept": 2}
    return sorted(rows, key=lambda row: order[row.role])


def kept_by_window(status: RolloutStatus, color: Color, version: str) -> bool:
    window = status.rollback_window
    leaving = any(t.color == color for t in status.teardowns)
    return (
        window is not None and window.color == color and window.version == version and not leaving
    )


def _revision_node(row: RevisionRow, status: RolloutStatus, now: float) -> Text:
    style = COLOR_STYLE[row.color]
    text = Text()
    text.append("● ", style=style)
    text.append(f"{row.version}", style=f"bold {style}")
    text.append(f"  {row.role}  {row.color}  ")
    text.append(weight_bar(row.weight, style))
    # Converged means the router's weights were read back as desired: then actual = desired.
    confirmed = "= actual" if status.converged else "(actual not confirmed yet)"
    text.append(f" {row.weight:>3}% desired {confirmed}")
    if row.role in ("canary", "preview") and status.rollout_started_at is not None:
        text.append(f"  age {duration(now - status.rollout_started_at)}", style="dim")
    return text


def _replicas_node(row: RevisionRow) -> Text:
    ready = min(row.ready, row.desired)
    text = Text()
    text.append(READY_MARK * ready, style="green")
    text.append(WAITING_MARK * (row.desired - ready), style="yellow")
    more = f" (+{row.ready - row.desired} still running)" if row.ready > row.desired else ""
    label = "replicas" if row.desired else "replicas: scaled to 0"
    text.append(f" {label} {ready}/{row.desired} ready{more}")
    return text


def render_tree(
    rollout: Rollout,
    status: RolloutStatus | None,
    events: Sequence[Event],
    now: float,
    *,
    wide: bool = False,
) -> RenderableType:
    head = Text()
    head.append(rollout.name, style="bold")
    head.append(f"  {rollout.spec.strategy.kind}  ")
    if status is None:
        head.append("not started yet", style="dim")
        return Tree(head)
    head.append(str(status.phase), style=PHASE_STYLE.get(status.phase, "cyan"))
    if status.revision:
        head.append(f"  revision {status.revision}")
    if status.paused_by_user and not status.terminal:
        head.append("  (held by a user)", style="yellow")
    if status.phase_since:
        head.append(f"  for {duration(now - status.phase_since)}", style="dim")
    tree = Tree(head, guide_style="dim")
    where = position(rollout, status, now)
    if where:
        tree.add(Text(where))
    if status.message:
        tree.add(Text(status.message, style="italic"))
    if status.waiting_for and not status.converged:
        tree.add(Text(f"waiting for: {status.waiting_for}", style="yellow"))
    if (outage := outage_line(status, now)) is not None:
        tree.add(Text(outage, style="bold red"))
    if (window := window_line(status, rollout.spec.workload.replicas, now)) is not None:
        tree.add(Text(window, style="cyan"))
    following = next_action(rollout, status, now)
    if following:
        tree.add(Text(f"next: {following}", style="bold" if _needs_person(status) else ""))
    for row in revisions(status):
        node = tree.add(_revision_node(row, status, now))
        node.add(_replicas_node(row))
    if status.preview is not None:
        version = status.version_of(status.preview) or "?"
        where = preview_url(rollout) or "the router's preview entry"
        tree.add(Text(f"preview: {where} -> {version} ({status.preview}), no user traffic"))
    if status.mirror:
        tree.add(Text(f"mirror: {status.mirror}% of requests copied to the canary"))
    for route in status.header_routes:
        tree.add(Text(f"header route {route.name} -> {route.color}"))
    shown = collapse(events)[-(EVENTS_SHOWN_WIDE if wide else EVENTS_SHOWN) :]
    if not shown:
        return tree
    log = Tree(Text("recent events", style="dim"), guide_style="dim")
    for entry in shown:
        line = Text(f"{iso_time(entry.event.at)}  ", style="dim")
        line.append(entry.event.message, style=SEVERITY_STYLE[entry.event.severity])
        if entry.repeats > 1:
            line.append(f" (x{entry.repeats})", style="dim")
        log.add(line)
    return Group(tree, log)


def _needs_person(status: RolloutStatus) -> bool:
    return status.phase is Phase.AWAITING_JUDGEMENT or (
        status.phase is Phase.PAUSED and not status.terminal
    )
