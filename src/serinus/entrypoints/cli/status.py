"""`serinus get`, `status` and `list`: look at rollouts, and let CI gate on their outcome.

Exit codes of `serinus status`, `get --exit-status` and `run` (documented in the README):

    0  Completed: the new version serves all traffic, the old one is scaled down and the world
       matches (converged)
    1  error (unknown rollout, store or cluster unreachable)
    2  bad usage (an option's value)
    3  Aborted: traffic is back on stable
    4  Failed: the new version could not run
    5  Degraded: a version that takes traffic has no ready replica, or a completed rollout's
       stable version has fewer ready replicas than it should
    6  not done yet (`--no-wait`, or `--timeout` passed while progressing)
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer

from serinus.core.errors import NotFound
from serinus.core.ports import StateStore
from serinus.core.spec import Rollout
from serinus.core.status import Phase, RolloutStatus
from serinus.entrypoints.cli.cluster import CONTEXT, KUBECONFIG, NAMESPACE, cluster_target
from serinus.entrypoints.cli.local import opened_store_for, run_async
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import OUTPUT, check_output, console, emit
from serinus.entrypoints.cli.report import status_json
from serinus.entrypoints.cli.steps import describe_step, next_action, position
from serinus.entrypoints.cli.tree import render_tree, revisions

EXIT_COMPLETED, EXIT_ABORTED, EXIT_FAILED, EXIT_DEGRADED, EXIT_NOT_DONE = 0, 3, 4, 5, 6
POLL_SECONDS = 0.5
EVENTS_READ = 20


def now() -> float:
    """The wall clock for timers and ages (tests fix it)."""
    return time.time()


async def fetch(store: StateStore, name: str) -> tuple[Rollout, RolloutStatus | None]:
    rollout = await store.get_spec(name)
    if rollout is None:
        known = await store.names()
        raise NotFound(f"rollout {name!r} not found (known: {', '.join(known) or 'none'})")
    return rollout, await store.load(name)


def degraded(status: RolloutStatus) -> str | None:
    """Why the rollout is Degraded (see the module docstring), or None."""
    for row in revisions(status):
        if row.weight > 0 and row.ready == 0:
            return (
                f"{row.version} ({row.color}) takes {row.weight}% of traffic with no ready replica"
            )
    stable = next((row for row in revisions(status) if row.role == "stable"), None)
    if status.phase is Phase.COMPLETED and stable is not None and stable.ready < stable.desired:
        return f"{stable.version} has {stable.ready}/{stable.desired} replicas ready"
    return None


def exit_code(status: RolloutStatus | None) -> int | None:
    """The outcome's exit code, or None while the rollout is still on its way."""
    if status is None:
        return None
    if status.phase is Phase.ABORTED:
        return EXIT_ABORTED
    if status.phase is Phase.FAILED:
        return EXIT_FAILED
    if degraded(status) is not None:
        return EXIT_DEGRADED if status.terminal else None
    if status.phase is Phase.COMPLETED and status.terminal:
        return EXIT_COMPLETED
    return None


def final_code(status: RolloutStatus | None) -> int:
    """The exit code when we stop looking: not done yet unless it is already Degraded."""
    code = exit_code(status)
    if code is not None:
        return code
    return EXIT_DEGRADED if status is not None and degraded(status) else EXIT_NOT_DONE


def summary_line(rollout: Rollout, status: RolloutStatus | None, now: float) -> str:
    if status is None:
        return f"{rollout.name}: not started yet"
    where = position(rollout, status, now)
    reason = degraded(status)
    parts = [f"{rollout.name}: {status.phase}", where, status.message]
    if reason:
        parts.append(f"Degraded: {reason}")
    return " - ".join(part for part in parts if part)


@app.command()
def get(
    name: str = typer.Argument(..., help="Rollout name."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Follow it live until it is done."),
    exit_status: bool = typer.Option(
        False, "--exit-status", help="Exit with the outcome's code (see `serinus status`)."
    ),
    output: str = OUTPUT,
    namespace: str | None = NAMESPACE,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """Show a rollout as a tree: revisions, replicas, weights and the step."""
    check_output(output)
    cluster = cluster_target(namespace, kubeconfig, context)

    async def show() -> RolloutStatus | None:
        async with opened_store_for(cluster) as store:
            rollout, status = await fetch(store, name)
            if output in ("json", "yaml"):
                if watch:
                    status = await _until_done(store, name, status)
                emit(status_json(rollout, status, now()), output)
                return status
            wide = output == "wide"
            events = await store.history(name, limit=EVENTS_READ)
            if not watch:
                console.print(render_tree(rollout, status, events, now(), wide=wide))
                return status
            from rich.live import Live

            view = render_tree(rollout, status, events, now(), wide=wide)
            with Live(view, console=console, auto_refresh=False) as live:
                while exit_code(status) is None:
                    await asyncio.sleep(POLL_SECONDS)
                    rollout, status = await fetch(store, name)
                    events = await store.history(name, limit=EVENTS_READ)
                    live.update(render_tree(rollout, status, events, now(), wide=wide))
                    live.refresh()
            return status

    try:
        status = run_async(show)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if exit_status:
        raise typer.Exit(final_code(status))


async def _until_done(
    store: StateStore, name: str, status: RolloutStatus | None
) -> RolloutStatus | None:
    while exit_code(status) is None:
        await asyncio.sleep(POLL_SECONDS)
        _, status = await fetch(store, name)
    return status


@app.command()
def status(
    name: str = typer.Argument(..., help="Rollout name."),
    wait: bool = typer.Option(
        True, "--wait/--no-wait", help="Wait until the rollout is done (default) or look once."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0, help="Stop waiting after this many seconds (exit code 6)."
    ),
    namespace: str | None = NAMESPACE,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """Wait for a rollout to finish and exit with its outcome's code (for CI).

    Exit codes: 0 Completed, 3 Aborted, 4 Failed, 5 Degraded, 6 not done yet (--no-wait,
    --timeout), 1 error.
    """
    cluster = cluster_target(namespace, kubeconfig, context)

    async def follow() -> RolloutStatus | None:
        async with opened_store_for(cluster) as store:
            rollout, status = await fetch(store, name)
            line = summary_line(rollout, status, now())
            console.print(line, markup=False)
            if not wait:
                return status
            deadline = None if timeout is None else time.monotonic() + timeout
            while exit_code(status) is None and (deadline is None or time.monotonic() < deadline):
                await asyncio.sleep(POLL_SECONDS)
                rollout, status = await fetch(store, name)
                changed = summary_line(rollout, status, now())
                if _without_timers(changed) != _without_timers(line):
                    console.print(changed, markup=False)
                line = changed
            return status

    try:
        found = run_async(follow)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(final_code(found))


def _without_timers(line: str) -> str:
    """The line without its countdowns, so a wait prints changes, not every second."""
    return line.split(", waiting ")[0]


@app.command("list")
def list_rollouts(
    output: str = OUTPUT,
    namespace: str | None = NAMESPACE,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """List rollouts with their phase and weights."""
    check_output(output)
    cluster = cluster_target(namespace, kubeconfig, context)

    async def collect() -> list[tuple[Rollout, RolloutStatus | None]]:
        async with opened_store_for(cluster) as store:
            return [await fetch(store, name) for name in await store.names()]

    found = run_async(collect)
    at = now()
    if output in ("json", "yaml"):
        emit([status_json(rollout, status, at) for rollout, status in found], output)
        return
    from rich.table import Table

    wide = output == "wide"
    table = Table("NAME", "STRATEGY", "PHASE", "STEP", "WEIGHTS", *(["NEXT"] if wide else []))
    for rollout, status in found:
        weights = ", ".join(
            f"{row.version} ({row.role}) {row.weight}%"
            for row in (revisions(status) if status else [])
        )
        step = describe_step(rollout, status.step_index) if status and status.canary else ""
        cells = [rollout.name, rollout.spec.strategy.kind, str(status.phase) if status else "-"]
        cells += [step, weights]
        if wide:
            cells.append(next_action(rollout, status, at) if status else "")
        table.add_row(*cells)
    console.print(table)
