"""`serinus promote|abort|retry|undo|pause|resume|judge`: ask for an operation from any terminal.

The operation is recorded in the store and the command returns: the process driving the rollout
(`serinus run`, or the operator in the cluster) acts on it at its next reconcile. With `--wait`
the command waits for that outcome and says what it was, so "done" is only said when it is.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer

from serinus.app import operations
from serinus.core.intents import Intent, IntentKind
from serinus.entrypoints.cli.cluster import CONTEXT, KUBECONFIG, NAMESPACE, ClusterTarget
from serinus.entrypoints.cli.cluster import cluster_target as target
from serinus.entrypoints.cli.fast_path import recorded_line, who_acts
from serinus.entrypoints.cli.local import actor, driver_of, opened_store_for, run_async
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import console, fail

POLL_SECONDS = 0.1
NAME = typer.Argument(..., help="Rollout name.")
COMMENT = typer.Option("", "--comment", "-m", help="Why; kept in the audit trail.")
REVISION = typer.Option(
    None,
    "--revision",
    min=1,
    help="The revision you judged (`serinus get` shows it); refused if the rollout moved on.",
)
STEP = typer.Option(
    None, "--step", min=1, help="The step you judged, as `serinus get` numbers it (step 2/4: 2)."
)


@dataclass(frozen=True)
class Seen:
    """What the person deciding saw: the decision is refused if the rollout has moved on."""

    revision: int | None
    step: int | None  # 1-based, as shown


WAIT = typer.Option(
    None,
    "--wait",
    min=0.0,
    help="Wait up to this many seconds for the driver's outcome (default: record and return).",
)


def _request(
    name: str,
    kind: IntentKind,
    *,
    approve: bool | None = None,
    inputs: dict[str, str] | None = None,
    comment: str = "",
    cluster: ClusterTarget | None = None,
    wait: float | None = None,
    seen: Seen | None = None,
) -> None:
    async def work() -> Intent:
        async with opened_store_for(cluster) as store:
            if cluster is not None and os.environ.get("SERINUS_API_URL"):
                # Through the operator's API: Kubernetes identity, the one rule, a sealed intent.
                intent = await _through_api(cluster, name, kind, approve, inputs, comment, seen)
            else:
                intent = await operations.request(
                    store,
                    name,
                    kind,
                    actor=actor(),
                    source="cli",
                    approve=approve,
                    inputs=inputs,
                    comment=comment,
                    revision=seen.revision if seen else None,
                    step=seen.step - 1 if seen and seen.step is not None else None,
                )
            if wait is None:
                return intent
            deadline = time.monotonic() + wait
            while True:
                done = [i for i in await store.intents(name) if i.id == intent.id and i.outcome]
                if done or time.monotonic() >= deadline:
                    return done[0] if done else intent
                await asyncio.sleep(POLL_SECONDS)

    intent = run_async(work)
    what = f"{kind} of {name}"
    if intent.outcome is None:
        console.print(recorded_line(kind, name, intent.id, _who_acts(name, cluster, wait)))
        if wait is not None:
            raise typer.Exit(6)  # not done yet: the same code as `serinus status`
    elif intent.outcome.startswith("rejected"):
        fail(f"{what} {intent.outcome}")
    else:
        console.print(f"[green]{what}: {intent.outcome}[/]")


async def _through_api(
    cluster: ClusterTarget,
    name: str,
    kind: IntentKind,
    approve: bool | None,
    inputs: dict[str, str] | None,
    comment: str,
    seen: Seen | None,
) -> Intent:
    """Send the operation to the API at $SERINUS_API_URL with the kubeconfig's bearer token
    (the API server's service proxy would strip it, hence a URL of its own)."""
    from serinus.adapters.api_client import API_URL_ENV, ApiClient
    from serinus.adapters.kube.connection import from_kubeconfig

    connection = from_kubeconfig(cluster.kubeconfig, cluster.context)
    namespace = cluster.namespace or connection.namespace
    revision = seen.revision if seen else None
    step = seen.step - 1 if seen and seen.step is not None else None  # the API's are 0-based
    async with ApiClient(os.environ[API_URL_ENV], connection.header, namespace=namespace) as api:
        if kind is IntentKind.JUDGE:
            entry = await api.judge(
                name,
                approve=bool(approve),
                inputs=inputs,
                comment=comment,
                revision=revision,
                step=step,
            )
        elif kind in (IntentKind.PROMOTE, IntentKind.PROMOTE_FULL):
            full = kind is IntentKind.PROMOTE_FULL
            entry = await api.promote(
                name, full=full, comment=comment, revision=revision, step=step
            )
        else:
            entry = await api.operate(name, kind.value, comment)
    return Intent.model_validate(entry)


def _who_acts(name: str, cluster: ClusterTarget | None, wait: float | None) -> str:
    waited = f"no outcome within {wait:g}s; " if wait is not None else ""
    local = cluster is None
    return waited + who_acts(name, not local, driven=local and driver_of(name) is not None)


@app.command()
def promote(
    name: str = NAME,
    full: bool = typer.Option(False, "--full", help="Skip every remaining step and analysis."),
    comment: str = COMMENT,
    wait: float | None = WAIT,
    revision: int | None = REVISION,
    step: int | None = STEP,
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
        wait=wait,
        seen=Seen(revision, step),
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
        wait: float | None = WAIT,
        namespace: str | None = NAMESPACE,
        kubeconfig: Path | None = KUBECONFIG,
        context: str | None = CONTEXT,
    ) -> None:
        cluster = target(namespace, kubeconfig, context)
        _request(name, kind, comment=comment, cluster=cluster, wait=wait)

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
    wait: float | None = WAIT,
    revision: int | None = REVISION,
    step: int | None = STEP,
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
        wait=wait,
        seen=Seen(revision, step),
    )
