"""`serinus run` and `delete`: start, drive and remove rollouts in the local mode.

`serinus run NAME` drives the spec already recorded for NAME (after an undo or a retry, say)
without submitting a file, so it never replaces what an operation asked for.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.live import Live

from serinus.app import operations
from serinus.app.driver import DriverLock, drive
from serinus.app.engine import Engine, Reconciled
from serinus.app.metrics import record_notification_failure
from serinus.app.notifications import NotificationDispatcher
from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.app.removal import remove_rollout
from serinus.core.documents import load_rollout
from serinus.core.errors import InvalidInput
from serinus.core.events import Event
from serinus.core.spec import Rollout
from serinus.core.status import Phase, RolloutStatus
from serinus.entrypoints.cli.local import driver_of, opened_store, run_async, settings
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import console, fail
from serinus.entrypoints.cli.status import EXIT_ABORTED, EXIT_COMPLETED, EXIT_FAILED, fetch
from serinus.entrypoints.cli.view import render

EXIT_CODES = {
    Phase.COMPLETED: EXIT_COMPLETED,
    Phase.ABORTED: EXIT_ABORTED,
    Phase.FAILED: EXIT_FAILED,
}


def read_rollout(file: Path) -> Rollout:
    try:
        # Bytes: load_rollout decodes them, so a non-UTF-8 file is an error, not a traceback.
        text: str | bytes = sys.stdin.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        also = "; no recorded rollout has that name either" if _bare_name(file) else ""
        fail(f"FILE: cannot read {file}: {exc.strerror}{also}")
    try:
        return load_rollout(text, source=str(file))
    except InvalidInput as exc:
        fail(str(exc), code=2)


@app.command()
def run(
    file: Path = typer.Argument(
        ..., help="Rollout YAML or JSON ('-' for stdin), or the name of a recorded rollout."
    ),
    keep_running: bool = typer.Option(
        False, "--keep-running", help="Keep reconciling after the rollout is done (a controller)."
    ),
    plain: bool = typer.Option(
        False, "--plain", help="Print events as lines instead of a live view (default off a TTY)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what the rollout would do (`serinus plan`); change nothing."
    ),
) -> None:
    """Start or continue a rollout and drive it in the foreground with a live view."""
    recorded = _recorded(file)
    rollout = recorded or read_rollout(file)
    if dry_run:
        from serinus.entrypoints.cli.plan import show_plan  # plan imports this module

        show_plan(rollout, "table")
        return
    plain = plain or not console.is_terminal
    status = run_async(lambda: _run(rollout, keep_running, plain, submit=recorded is None))
    if status.phase in (Phase.ABORTED, Phase.FAILED):
        console.print(f"[red]{rollout.name} {status.phase}:[/] {status.message}", markup=True)
        console.print(
            f"retry with: serinus retry {rollout.name}, then serinus run {rollout.name}",
            markup=False,
        )
    raise typer.Exit(EXIT_CODES.get(status.phase, 0))


def _bare_name(file: Path) -> bool:
    """A FILE argument that can only be meant as a rollout's name (`serinus run web`)."""
    return str(file) != "-" and not file.exists() and len(file.parts) == 1 and not file.suffix


def _recorded(file: Path) -> Rollout | None:
    """The recorded spec when FILE is no file but the name of a rollout in the store."""
    if not _bare_name(file):
        return None

    async def lookup() -> Rollout | None:
        async with opened_store() as store:
            return await store.get_spec(str(file))

    return run_async(lookup)


async def _run(
    rollout: Rollout, keep_running: bool, plain: bool, *, submit: bool = True
) -> RolloutStatus:
    folder = settings().rollout_dir(rollout.name)
    with DriverLock(folder, rollout.name):
        async with opened_store() as store:
            if submit:
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


@app.command()
def delete(name: str = typer.Argument(..., help="Rollout name.")) -> None:
    """Stop a rollout's replicas and HAProxy and forget it."""
    if driver_of(name) is not None:
        fail(f"{name} is being driven by pid {driver_of(name)}: stop that `serinus run` first")

    async def remove() -> None:
        async with opened_store() as store:
            rollout, _ = await fetch(store, name)
            context = AdapterContext(rollout=rollout, state_dir=settings().rollout_dir(name))
            await remove_rollout(store, context)

    run_async(remove)
    console.print(f"{name} deleted")
