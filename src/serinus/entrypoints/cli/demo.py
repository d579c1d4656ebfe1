"""`serinus demo`: the local Blue-Green + Canary demo through real HAProxy, with a summary."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import replace
from typing import Any

import typer
from rich.live import Live
from rich.table import Table

from serinus.app.driver import DriverLock
from serinus.app.engine import Reconciled
from serinus.app.registry import AdapterContext
from serinus.app.removal import remove_rollout
from serinus.core.ports import StateStore
from serinus.demo.scenario import NAME, Demo, DemoOptions
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.auth import AuthConfig
from serinus.entrypoints.api.server import background
from serinus.entrypoints.cli.local import opened_store, run_async, settings
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import console, fail
from serinus.entrypoints.cli.view import render


@app.command()
def demo(
    quick: bool = typer.Option(False, "--quick", help="Short holds and delays (under 60 s)."),
    auto_approve: bool = typer.Option(
        False, "--auto-approve", help="Approve the judgement once the canary looks healthy."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the summary as one JSON object on the last line."
    ),
    rate: float = typer.Option(100.0, "--rate", min=1.0, help="Load in requests per second."),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="HAProxy's port."),
    keep: bool = typer.Option(False, "--keep", help="Leave v2, HAProxy and the state running."),
    interactive: bool = typer.Option(
        False, "--interactive", help="Wait for the judgement to be clicked in the dashboard."
    ),
    dashboard_port: int = typer.Option(
        0, "--dashboard-port", min=0, max=65535, help="The dashboard's port (0: any free port)."
    ),
) -> None:
    """Roll v2 out under load with Blue-Green + Canary, then catch faulty v3 and roll it back."""
    if interactive and auto_approve:
        fail("--interactive and --auto-approve exclude each other", code=2)
    options = DemoOptions(quick=quick, auto_approve=auto_approve, rate=rate, port=port, keep=keep)
    plain = as_json or not console.is_terminal
    try:
        summary = run_async(lambda: _demo(options, plain, dashboard_port))
    except asyncio.CancelledError:
        fail("demo stopped (SIGTERM); its replicas, HAProxy and Prometheus were stopped", 143)
    except KeyboardInterrupt:  # asyncio.run cancelled the demo first: its finally blocks ran
        fail("demo stopped (Ctrl+C); its replicas, HAProxy and Prometheus were stopped", 130)
    print_summary(summary)
    if as_json:
        typer.echo(json.dumps(summary, separators=(",", ":")))
    # Success is the right outcome for each version; the requests v3 failed before the analysis
    # (or the guard) caught it are its injected errors, reported in the summary.
    raise typer.Exit(0 if summary["outcomes"] == {"v2": "Completed", "v3": "Aborted"} else 1)


async def _demo(options: DemoOptions, plain: bool, dashboard_port: int) -> dict[str, Any]:
    # SIGTERM (timeout, CI cancellation, docker stop) cleans up like Ctrl+C: cancel, then the
    # finally blocks stop the replicas, HAProxy, Prometheus and the dashboard.
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    state_dir = settings().state_dir
    auth, token = AuthConfig.single_user("demo-user", ["viewer", "deployer", "approver"])
    with DriverLock(settings().rollout_dir(NAME), NAME):
        async with (
            opened_store() as store,
            background(create_app(store, auth), port=dashboard_port) as url,
        ):
            base = url.rstrip("/") + "/"
            console.print(
                f"[bold cyan]demo:[/] dashboard at {base} (log in with the token {token})",
                soft_wrap=True,
            )
            options = replace(options, dashboard_url=base)
            await _forget_previous_demo(store)
            live = None if plain else Live(console=console, refresh_per_second=8)
            events: list[Any] = []

            def show(label: str, result: Reconciled) -> None:
                if result.decision is None:
                    return
                if plain:
                    for event in result.decision.events:
                        console.print(f"[{label}] {event.type}: {event.message}", markup=False)
                    return
                events.extend(result.decision.events)
                assert live is not None and runner.current is not None
                live.update(render(runner.current, result.status, events, result.error))

            def say(message: str) -> None:
                console.print(f"[bold cyan]demo:[/] {message}")

            runner = Demo(options, store, state_dir, show, say)
            try:
                if live is not None:
                    live.start()
                return await runner.run()
            finally:
                if live is not None:
                    live.stop()
                await runner.close()


async def _forget_previous_demo(store: StateStore) -> None:
    """A previous demo may have been killed: stop its replicas and HAProxy, drop its record."""
    previous = await store.get_spec(NAME)
    if previous is not None:
        context = AdapterContext(rollout=previous, state_dir=settings().rollout_dir(NAME))
        await remove_rollout(store, context)


def print_summary(summary: dict[str, Any]) -> None:
    requests = summary["requests"]
    style = "green" if requests["failed"] == 0 else "red"
    console.print()
    console.print(
        f"[bold]Summary[/] ({summary['durationSeconds']}s): "
        f"[{style}]{requests['sent']} requests sent, {requests['failed']} failed[/] "
        f"(counted by the load generator's client, {requests['achievedRate']} req/s); "
        f"v2 {summary['outcomes']['v2']}, v3 {summary['outcomes']['v3']}, "
        f"stable now {summary['stable']}"
    )
    for version, run in summary.get("analysis", {}).items():
        if run is not None:
            metrics = ", ".join(f"{name} {phase}" for name, phase in run["metrics"].items())
            console.print(f"analysis of {version}: [bold]{run['phase']}[/] ({metrics})")
    if summary.get("analysisBy") == "guard":
        console.print("(no prometheus: the simple error-ratio guard judged the canaries)")
    phases = Table("ROLLOUT", "PHASE", "SECONDS", title="phases")
    for entry in summary["phases"]:
        phases.add_row(entry["rollout"], entry["phase"], f"{entry['seconds']:.1f}")
    console.print(phases)
    console.print(share_chart(summary["shares"]))
    console.print(
        "next: `serinus run FILE` drives your own rollout (see examples/), "
        "`serinus history demo` shows this demo's events and operations, "
        "`serinus get demo` the last analysis."
    )


def share_chart(buckets: list[dict[str, Any]], width: int = 50) -> Table:
    """Each second's answers as a stacked bar of versions: the weight timeline users saw."""
    palette = {"v1": "blue", "v2": "green", "v3": "red"}
    chart = Table("T+S", "VERSIONS (share of answers)", "FAILED", title="traffic by version")
    for bucket in buckets:
        bar = ""
        shares: dict[str, float] = bucket["shares"]
        for version, share in shares.items():
            cells = round(share * width)
            if cells:
                bar += f"[{palette.get(version, 'white')}]{'█' * cells}[/]"
        label = " ".join(f"{v} {s:.0%}" for v, s in shares.items())
        chart.add_row(f"{bucket['start']:.0f}", f"{bar} {label}", str(bucket["failed"]))
    return chart
