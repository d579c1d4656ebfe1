"""`serinus history NAME`: the audit of a rollout, for an auditor.

Every operation people asked for (with its inputs, the judgement's decision, who, from where,
on which version and revision, and what came of it), then the rollout's events, each once (see
event_log). Instants are ISO 8601 with the time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer

from serinus.core.events import Event, EventType
from serinus.core.intents import Intent, IntentKind
from serinus.core.status import RolloutStatus
from serinus.entrypoints.cli.clock import iso_time
from serinus.entrypoints.cli.cluster import CONTEXT, KUBECONFIG, NAMESPACE, cluster_target
from serinus.entrypoints.cli.event_log import Entry, collapse
from serinus.entrypoints.cli.local import opened_store_for, run_async
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import OUTPUT, check_output, console, emit
from serinus.entrypoints.cli.report import event_json, intent_json
from serinus.entrypoints.cli.status import fetch


def versions_at(
    intents: Sequence[Intent], events: Sequence[Event], status: RolloutStatus | None
) -> dict[int, tuple[str | None, int | None]]:
    """The version being rolled out and its revision when each operation was asked for.

    A decision bound to a revision (judge, promote) carries it. Otherwise: each RolloutStarted
    raises the revision by one, so the revision at a time is the current one less the starts
    recorded after it (the history holds the newest events)."""
    starts = [e for e in events if e.type is EventType.ROLLOUT_STARTED]
    current = status.revision if status is not None else None
    found: dict[int, tuple[str | None, int | None]] = {}
    for intent in intents:
        before = [e for e in starts if e.at <= intent.at]
        version = str(before[-1].data.get("version")) if before else None
        later = len(starts) - len(before)
        revision = current - later if current is not None and before else None
        if intent.revision is not None:  # bound when it was asked for: exact, keep it
            revision = intent.revision
        found[intent.id] = (version, revision)
    return found


def operation_name(intent: Intent) -> str:
    if intent.kind is IntentKind.JUDGE:
        return "judge: approve" if intent.approve else "judge: reject"
    return str(intent.kind)


@app.command()
def history(
    name: str = typer.Argument(..., help="Rollout name."),
    limit: int = typer.Option(200, min=1, help="How many recent events and operations to show."),
    output: str = OUTPUT,
    namespace: str | None = NAMESPACE,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """Show every operation on a rollout, with its inputs and outcome, then its events."""
    check_output(output, ("table", "json", "yaml"))
    cluster = cluster_target(namespace, kubeconfig, context)

    async def collect() -> tuple[RolloutStatus | None, list[Intent], list[Event]]:
        async with opened_store_for(cluster) as store:
            _, status = await fetch(store, name)
            intents = await store.intents(name, limit=limit)
            return status, list(intents), list(await store.history(name, limit))

    status, intents, events = run_async(collect)
    at = versions_at(intents, events, status)
    entries = collapse(events)
    if output != "table":
        emit(
            {
                "operations": [
                    {**intent_json(i), "version": at[i.id][0], "revision": at[i.id][1]}
                    for i in intents
                ],
                "events": [{**event_json(e.event), "repeats": e.repeats} for e in entries],
            },
            output,
        )
        return
    _print_operations(name, intents, at)
    _print_events(name, entries)


def _print_operations(
    name: str, intents: Sequence[Intent], at: dict[int, tuple[str | None, int | None]]
) -> None:
    from rich.table import Table

    if not intents:
        console.print(f"{name}: no operations recorded")
        return
    table = Table(
        "TIME", "OPERATION", "BY", "SOURCE", "VERSION", "REV", "INPUTS", "COMMENT", "OUTCOME",
        title=f"{name}: operations",
    )  # fmt: skip
    for intent in intents:
        version, revision = at[intent.id]
        table.add_row(
            iso_time(intent.at),
            operation_name(intent),
            intent.actor,
            intent.source,
            version or "-",
            str(revision) if revision is not None else "-",
            ", ".join(f"{k}={v}" for k, v in intent.inputs.items()) or "-",
            intent.comment or "-",
            intent.outcome or "pending",
        )
    console.print(table)


def _print_events(name: str, entries: Sequence[Entry]) -> None:
    from rich.table import Table

    table = Table("TIME", "EVENT", "MESSAGE", title=f"{name}: events")
    for entry in entries:
        repeats = f" (x{entry.repeats})" if entry.repeats > 1 else ""
        table.add_row(
            iso_time(entry.event.at), str(entry.event.type), entry.event.message + repeats
        )
    console.print(table)
