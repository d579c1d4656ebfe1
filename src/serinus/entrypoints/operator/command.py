"""`serinus operator`: run the Kubernetes operator (the arguments the Helm chart passes)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
from pathlib import Path

import typer

from serinus.core.errors import InvalidInput
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import fail

LOG_LEVELS = ("debug", "info", "warning", "error")


@app.command()
def operator(
    namespaces: list[str] = typer.Option(
        [], "--namespace", "-n", help="Watch Rollouts in this namespace (repeatable)."
    ),
    all_namespaces: bool = typer.Option(
        False, "--all-namespaces", "-A", help="Watch Rollouts in every namespace."
    ),
    leader_election: bool = typer.Option(
        True,
        "--leader-election/--no-leader-election",
        help="Act only while holding a Lease, so replicas never act at once.",
    ),
    lease_name: str = typer.Option("serinus-operator", "--lease-name", help="The Lease's name."),
    lease_namespace: str | None = typer.Option(
        None,
        "--lease-namespace",
        envvar="POD_NAMESPACE",
        help="The Lease's namespace (default: $POD_NAMESPACE, else the kubeconfig's).",
    ),
    lease_duration: float = typer.Option(
        15.0, "--lease-duration", min=1.0, max=300.0, help="Seconds a Lease outlives its holder."
    ),
    identity: str | None = typer.Option(
        None, "--identity", envvar="POD_NAME", help="Name in the Lease (default: $POD_NAME)."
    ),
    metrics_port: int = typer.Option(
        8080, "--metrics-port", min=0, max=65535, help="/healthz and /metrics (0: any free port)."
    ),
    api_port: int | None = typer.Option(
        8686, "--api-port", min=0, max=65535, help="REST API and dashboard (0: any free port)."
    ),
    no_api: bool = typer.Option(False, "--no-api", help="Do not serve the API and dashboard."),
    api_namespace: str | None = typer.Option(
        None, "--api-namespace", help="Namespace whose rollouts the API shows."
    ),
    tokens_file: Path | None = typer.Option(
        None,
        "--tokens-file",
        envvar="SERINUS_TOKENS_FILE",
        help="API users (serinus token add); without it the API takes Kubernetes bearer tokens "
        "(TokenReview) and RBAC verbs on rollouts.serinus.io (SubjectAccessReview).",
    ),
    bind: str = typer.Option("0.0.0.0", "--bind-address", help="Address the servers listen on."),
    poll_seconds: float = typer.Option(
        1.0, "--poll-seconds", min=0.05, max=60.0, help="Longest wait between reconciles."
    ),
    max_concurrent: int = typer.Option(
        32, "--max-concurrent-reconciles", min=1, max=1000, help="Reconciles running at once."
    ),
    kubeconfig: Path | None = typer.Option(
        None, "--kubeconfig", help="kubeconfig file (default: in-cluster, else $KUBECONFIG)."
    ),
    context: str | None = typer.Option(None, "--context", help="kubeconfig context."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
    allow_author_commands: bool = typer.Option(
        False,
        "--allow-author-commands",
        help="DANGEROUS: run the process workloads, command metrics and binaries Rollouts name, "
        "inside the operator's pod with its rights. Anyone who can write a Rollout then runs "
        "code as the operator. Off: such Rollouts are refused (ExecutionNotAllowed).",
    ),
    egress_allow: list[str] = typer.Option(
        [],
        "--egress-allow",
        help="A network (169.254.10.0/24) or host name metric providers and notifications may "
        "reach although it is link-local or a cloud metadata address (repeatable).",
    ),
) -> None:
    """Run the Kubernetes operator: drive every Rollout it watches with the engine."""
    if log_level not in LOG_LEVELS:
        fail(f"--log-level: expected one of {', '.join(LOG_LEVELS)}, got {log_level!r}", code=2)
    if all_namespaces == bool(namespaces):
        fail("say exactly one of --all-namespaces or --namespace NS", code=2)
    if kubeconfig is not None:
        # The official client's loaders (connection.py) read $KUBECONFIG.
        os.environ["KUBECONFIG"] = str(kubeconfig)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from serinus.app.settings import default_state_dir
    from serinus.entrypoints.api.access import TokensAccess
    from serinus.entrypoints.api.cluster import intent_key
    from serinus.entrypoints.operator.drivers import DriverSettings
    from serinus.entrypoints.operator.leadership import LeaseTiming
    from serinus.entrypoints.operator.runtime import OperatorConfig, run_operator

    if allow_author_commands:
        logging.getLogger("serinus.operator").warning(
            "--allow-author-commands: Rollout authors can run any program in this pod"
        )
    tokens = None
    if tokens_file is not None:
        try:
            # Re-read when it changes: expiry, revocations and new tokens apply without a restart.
            tokens = TokensAccess.watching(tokens_file)
        except InvalidInput as exc:
            fail(str(exc), code=2)
        if not tokens.config.users:
            fail(
                f"--tokens-file: {tokens_file} names no users; add one with `serinus token add`, "
                "or leave the option out to take Kubernetes tokens",
                code=2,
            )
    try:
        key = intent_key()  # SERINUS_INTENT_KEY_FILE: one key for every replica
    except InvalidInput as exc:
        fail(str(exc), code=2)
    config = OperatorConfig(
        namespaces=tuple(dict.fromkeys(namespaces)),
        identity=identity or f"{socket.gethostname()}-{os.getpid()}",
        drivers=DriverSettings(
            state_dir=default_state_dir() / "operator",
            poll_seconds=poll_seconds,
            max_concurrent_reconciles=max_concurrent,
            allow_author_commands=allow_author_commands,
            egress_allow=_egress_entries(egress_allow),
            intent_key=key,
        ),
        leader_election=leader_election,
        lease_name=lease_name,
        lease_namespace=lease_namespace,
        lease_timing=LeaseTiming.for_duration(lease_duration),
        bind=bind,
        metrics_port=metrics_port,
        api_port=None if no_api else api_port,
        api_namespace=api_namespace,
        tokens=tokens,
        kubeconfig=kubeconfig,
        context=context,
    )
    try:
        code = asyncio.run(run_operator(config))
    except InvalidInput as exc:
        fail(str(exc), code=2)
    raise typer.Exit(code)


def _egress_entries(entries: list[str]) -> tuple[str, ...]:
    """The --egress-allow entries; one that looks like an address but is none is refused."""
    for entry in entries:
        looks_numeric = entry and all(c in "0123456789abcdefABCDEF.:/" for c in entry)
        if looks_numeric and ("/" in entry or entry[0].isdigit() or ":" in entry):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                fail(f"--egress-allow: {entry!r} is not a network (e.g. 169.254.10.0/24)", code=2)
        elif not entry or any(c.isspace() or c in "/@" for c in entry):
            fail(f"--egress-allow: {entry!r} is neither a network nor a host name", code=2)
    return tuple(entries)
