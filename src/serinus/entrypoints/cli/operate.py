"""`serinus promote|abort|retry|undo|pause|resume|judge`: ask for an operation from any terminal.

The operation is recorded in the store; the process driving the rollout (`serinus run`) acts on
it within a reconcile. When a driver is running, the command waits briefly for the outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import typer

from serinus.app import operations
from serinus.core.intents import Intent, IntentKind
from serinus.entrypoints.cli.cluster import CONTEXT, KUBECONFIG, NAMESPACE, ClusterTarget
from serinus.entrypoints.cli.cluster import cluster_target as target
from serinus.entrypoints.cli.local import actor, opened_store_for, run_async
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import console, fail
from serinus.entrypoints.cli.rollouts import driver_of

WAIT_SECONDS = 10.0
NAME = typer.Argument(..., help="Rollout name.")
COMMENT = typer.Option("", "--comment", "-m", help="Why; kept in the audit trail.")


def _request(
    name: str,
    kind: IntentKind,
    *,
    approve: bool | None = None,
    inputs: dict[str, str] | None = None,
    comment: str = "",
    cluster: ClusterTarget | None = None,
) -> None:
    async def work() -> Intent:
        async with opened_store_for(cluster) as store:
            intent = await operations.request(
                store,
                name,
                kind,
                actor=actor(),
                source="cli",
                approve=approve,
                inputs=inputs,
                comment=comment,
            )
            if cluster is None and driver_of(name) is None:
                return intent  # nobody acts on it now (cluster mode: the operator will)
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline:
                done = [i for i in await store.intents(name) if i.id == intent.id and i.outcome]
                if done:
                    return done[0]
                await asyncio.sleep(0.1)
            return intent

    intent = run_async(work)
    if intent.outcome is None:
        hint = "; the operator acts on it at its next reconcile"
        if cluster is None:
            hint = "" if driver_of(name) else f"; no driver is running: start `serinus run` {name}"
        console.print(f"{kind} of {name} recorded (#{intent.id}){hint}")
    elif intent.outcome.startswith("rejected"):
        fail(f"{kind} of {name} {intent.outcome}")
    else:
        console.print(f"[green]{kind} of {name}: {intent.outcome}[/]")


@app.command()
def promote(
    name: str = NAME,
    full: bool = typer.Option(False, "--full", help="Skip every remaining step and analysis."),
    comment: str = COMMENT,
    namespace: str | None = NAMESPACE,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """End the current pause (or, with --full, promote at once)."""
    _request(
        name,
        IntentKind.PROMOTE_FULL if full else IntentKind.PROMOTE,
        comment=comment,
        cluster=target(namespace, kubeconfig, context),
    )


SIMPLE_OPERATIONS = {
    IntentKind.ABORT: "Send all traffic back to the stable version at once.",
    IntentKind.RETRY: "Start an aborted or failed rollout's steps again.",
    IntentKind.UNDO: "Roll out the previous version again.",
    IntentKind.PAUSE: "Hold the rollout at its current step.",
    IntentKind.RESUME: "Continue a rollout a user paused.",
}


def _operation_command(kind: IntentKind, summary: str) -> Callable[..., None]:
    """A command that only names the rollout (and a comment): abort, retry, undo, ..."""

    def command(
        name: str = NAME,
        comment: str = COMMENT,
        namespace: str | None = NAMESPACE,
        kubeconfig: Path | None = KUBECONFIG,
        context: str | None = CONTEXT,
    ) -> None:
        _request(name, kind, comment=comment, cluster=target(namespace, kubeconfig, context))

    command.__doc__ = summary
    return command


for _kind, _summary in SIMPLE_OPERATIONS.items():
    app.command(_kind.value)(_operation_command(_kind, _summary))


@app.command()
def judge(
    name: str = NAME,
    approve: bool = typer.Option(False, "--approve", help="Continue the rollout."),
    reject: bool = typer.Option(False, "--reject", help="Stop the rollout (abort)."),
    inputs: list[str] = typer.Option([], "--input", "-i", help="An input as NAME=VALUE."),
    comment: str = COMMENT,
    namespace: str | None = NAMESPACE,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """Decide a pending judgement."""
    if approve == reject:
        fail("say exactly one of --approve or --reject", code=2)
    parsed: dict[str, str] = {}
    for item in inputs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--input: expected NAME=VALUE, got {item!r}", code=2)
        parsed[key] = value
    _request(
        name,
        IntentKind.JUDGE,
        approve=approve,
        inputs=parsed,
        comment=comment,
        cluster=target(namespace, kubeconfig, context),
    )
