"""`serinus run`, `get`, `list`, `history`: start, drive and look at rollouts in the local mode."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.live import Live
from rich.table import Table

from serinus.app import operations
from serinus.app.driver import DriverLock, drive
from serinus.app.engine import Engine, Reconciled
from serinus.app.metrics import record_notification_failure
from serinus.app.notifications import NotificationDispatcher
from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.app.removal import remove_rollout
from serinus.core.documents import load_rollout
from serinus.core.errors import InvalidInput, NotFound
from serinus.core.events import Event
from serinus.core.ports import StateStore
from serinus.core.spec import Rollout
from serinus.core.status import Phase, RolloutStatus
from serinus.entrypoints.cli.cluster import CONTEXT, KUBECONFIG, NAMESPACE, cluster_target
from serinus.entrypoints.cli.local import opened_store, opened_store_for, run_async, settings
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import console, fail, print_json
from serinus.entrypoints.cli.view import (
    describe_step,
    event_json,
    render,
    status_json,
    weight_rows,
)

OUTPUT_HELP = "Output format: table or json."
EXIT_CODES = {Phase.COMPLETED: 0, Phase.ABORTED: 3, Phase.FAILED: 4}


def read_rollout(file: Path) -> Rollout:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
    except OSError as exc:
        fail(f"FILE: cannot read {file}: {exc.strerror}")
    try:
        return load_rollout(text, source=str(file))
    except InvalidInput as exc:
        fail(str(exc), code=2)


@app.command()
def run(
    file: Path = typer.Argument(..., help="Rollout YAML or JSON ('-' for stdin)."),
    keep_running: bool = typer.Option(
        False, "--keep-running", help="Keep reconciling after the rollout is done (a controller)."
    ),
    plain: bool = typer.Option(
        False, "--plain", help="Print events as lines instead of a live view (default off a TTY)."
    ),
) -> None:
    """Start or continue a rollout and drive it in the foreground with a live view."""
    rollout = read_rollout(file)
    plain = plain or not console.is_terminal
    status = run_async(lambda: _run(rollout, keep_running, plain))
    if status.phase in (Phase.ABORTED, Phase.FAILED):
        console.print(f"[red]{rollout.name} {status.phase}:[/] {status.message}")
        console.print(f"retry with: serinus retry {rollout.name}, then serinus run {file}")
    raise typer.Exit(EXIT_CODES.get(status.phase, 0))


async def _run(rollout: Rollout, keep_running: bool, plain: bool) -> RolloutStatus:
    folder = settings().rollout_dir(rollout.name)
    with DriverLock(folder, rollout.name):
        async with opened_store() as store:
            await operations.submit(store, rollout)
            context = AdapterContext(rollout=rollout, state_dir=folder)
            router, platform = build_router(context), build_platform(context)
            dispatcher = NotificationDispatcher(on_failure=record_notification_failure)

            def notify(name: str, events: Sequence[Event]) -> None:
                dispatcher.publish(
                    name, events, rollout.spec.notifications, namespace=rollout.metadata.namespace
                )

            engine = Engine(store, router, platform, sinks=[notify])
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            events = list(await store.history(rollout.name, limit=8))
            try:
                if plain:
                    result = await drive(
                        engine, rollout.name, _print_events, keep_running=keep_running, stop=stop
                    )
                else:
                    with Live(render(rollout, None), console=console, refresh_per_second=8) as live:

                        def update(result: Reconciled) -> None:
                            if result.decision is not None:
                                events.extend(result.decision.events)
                            live.update(render(rollout, result.status, events, result.error))

                        result = await drive(
                            engine, rollout.name, update, keep_running=keep_running, stop=stop
                        )
            finally:
                await router.close()
                await platform.close()
                await dispatcher.close(timeout=5.0)
            if stop.is_set() and not result.status.terminal:
                console.print(
                    f"driver stopped; {rollout.name} is {result.status.phase}. "
                    "Run the same command to continue."
                )
            return result.status


def _print_events(result: Reconciled) -> None:
    if result.decision is not None:
        for event in result.decision.events:
            console.print(f"{event.type}: {event.message}", markup=False)
    if result.error:
        console.print(f"error: {result.error}", markup=False, style="red")


async def _get(store: StateStore, name: str) -> tuple[Rollout, RolloutStatus | None]:
    rollout = await store.get_spec(name)
    if rollout is None:
        known = await store.names()
        raise NotFound(f"rollout {name!r} not found (known: {', '.join(known) or 'none'})")
    return rollout, await store.load(name)


@app.command()
def get(
    name: str = typer.Argument(..., help="Rollout name."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Follow it live until it is done."),
    output: str = typer.Option("table", "--output", "-o", help=OUTPUT_HELP),
    namespace: str | None = NAMESPACE,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """Show a rollout: phase, step, weights, replicas and recent events."""
    check_output(output)
    cluster = cluster_target(namespace, kubeconfig, context)

    async def show() -> None:
        async with opened_store_for(cluster) as store:
            rollout, status = await _get(store, name)
            if output == "json":
                print_json(status_json(rollout, status))
                return
            events = await store.history(name, limit=8)
            if not watch:
                console.print(render(rollout, status, events))
                return
            with Live(render(rollout, status, events), console=console) as live:
                while status is None or not status.terminal:
                    await asyncio.sleep(0.3)
                    rollout, status = await _get(store, name)
                    events = await store.history(name, limit=8)
                    live.update(render(rollout, status, events))

    with contextlib.suppress(KeyboardInterrupt):
        run_async(show)


@app.command("list")
def list_rollouts(
    output: str = typer.Option("table", "--output", "-o", help=OUTPUT_HELP),
    namespace: str | None = NAMESPACE,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """List rollouts with their phase and weights."""
    check_output(output)
    cluster = cluster_target(namespace, kubeconfig, context)

    async def collect() -> list[tuple[Rollout, RolloutStatus | None]]:
        async with opened_store_for(cluster) as store:
            return [await _get(store, name) for name in await store.names()]

    found = run_async(collect)
    if output == "json":
        print_json([status_json(rollout, status) for rollout, status in found])
        return
    table = Table("NAME", "STRATEGY", "PHASE", "STEP", "WEIGHTS")
    for rollout, status in found:
        weights = (
            ", ".join(f"{label} {w}%" for _, label, w, _ in weight_rows(status)) if status else ""
        )
        table.add_row(
            rollout.name,
            rollout.spec.strategy.kind,
            str(status.phase) if status else "-",
            describe_step(rollout, status.step_index) if status and status.canary else "",
            weights,
        )
    console.print(table)


@app.command()
def history(
    name: str = typer.Argument(..., help="Rollout name."),
    limit: int = typer.Option(200, min=1, help="How many recent events to show."),
    output: str = typer.Option("table", "--output", "-o", help=OUTPUT_HELP),
    namespace: str | None = NAMESPACE,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """Show a rollout's events and the audit of the operations people asked for."""
    check_output(output)
    cluster = cluster_target(namespace, kubeconfig, context)

    async def collect() -> tuple[list[Event], list[dict[str, object]]]:
        async with opened_store_for(cluster) as store:
            await _get(store, name)
            intents = await store.intents(name, limit=limit)
            return list(await store.history(name, limit)), [
                i.model_dump(mode="json") for i in intents
            ]

    events, audit = run_async(collect)
    if output == "json":
        print_json({"events": [event_json(e) for e in events], "operations": audit})
        return
    table = Table("TIME", "EVENT", "MESSAGE", title=f"{name}: events")
    for event in events:
        table.add_row(_clock(event.at), str(event.type), event.message)
    console.print(table)
    if audit:
        ops = Table("TIME", "OPERATION", "BY", "SOURCE", "COMMENT", "OUTCOME", title="operations")
        for item in audit:
            ops.add_row(
                _clock(float(str(item["at"]))),
                str(item["kind"]),
                str(item["actor"]),
                str(item["source"]),
                str(item["comment"]),
                str(item["outcome"] or "pending"),
            )
        console.print(ops)


def _clock(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def check_output(output: str) -> None:
    if output not in ("table", "json"):
        fail(f"--output: expected 'table' or 'json', got {output!r}", code=2)


def driver_of(name: str) -> int | None:
    return DriverLock.holder(settings().rollout_dir(name))


@app.command()
def delete(name: str = typer.Argument(..., help="Rollout name.")) -> None:
    """Stop a rollout's replicas and HAProxy and forget it."""
    if driver_of(name) is not None:
        fail(f"{name} is being driven by pid {driver_of(name)}: stop that `serinus run` first")

    async def remove() -> None:
        async with opened_store() as store:
            rollout, _ = await _get(store, name)
            context = AdapterContext(rollout=rollout, state_dir=settings().rollout_dir(name))
            await remove_rollout(store, context)

    run_async(remove)
    console.print(f"{name} deleted")
