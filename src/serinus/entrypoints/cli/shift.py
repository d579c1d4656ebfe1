"""`serinus shift`: the seed's istio-traffic-shifter, on manifests (`-f`) or in the cluster.

Offline (`-f FILE`): reads YAML or JSON (several documents allowed; `-f -` reads stdin), shifts
every VirtualService with `serinus.core.virtualservice`, passes other documents through, and
prints the result. Comments and quoting style of the input are not kept (the YAML is parsed and
dumped again); values, key order and document order are.

In the cluster (`--virtual-service NAME`): the same transformation on the object read from the
API server, written back with optimistic concurrency by `serinus.app.shifting` (a concurrent
edit of another route survives). The connection is the kubeconfig (`--kubeconfig`,
`--context`, else $KUBECONFIG or ~/.kube/config) or, inside a pod, its service account; the
namespace defaults to the context's (in a pod: the pod's own).

This module is I/O only: argument checks, error wording and rendering.
"""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
import yaml

from serinus.adapters.kube.client import KubeClient
from serinus.app.shifting import ShiftOutcome, shift_in_cluster, virtual_service_ref
from serinus.core.errors import Forbidden, InvalidInput, KubeError, NotFound, SerinusError
from serinus.core.virtualservice import (
    InvalidShift,
    ShiftTarget,
    TrafficShift,
    UnknownRoute,
    http_route_names,
    shift_documents,
)
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import fail, print_json

STDIN = "-"
# Wide enough that PyYAML never folds a long string value onto several lines.
YAML_WIDTH = 1 << 20


class OutputFormat(StrEnum):
    yaml = "yaml"
    json = "json"


@app.command()
def shift(
    file: str | None = typer.Option(
        None,
        "-f",
        "--filename",
        metavar="FILE",
        help="VirtualService manifest (YAML or JSON, several documents allowed); '-' reads stdin.",
    ),
    virtual_service: str | None = typer.Option(
        None,
        "--virtual-service",
        metavar="NAME",
        help="Shift this VirtualService in the cluster instead of a file.",
    ),
    target_service: str = typer.Option(
        ..., "--target-service", help="Host of the destination that gets the traffic."
    ),
    percentage: int = typer.Option(
        ..., "--percentage", min=0, max=100, help="Share for the target; 0 removes it."
    ),
    target_subset: str | None = typer.Option(
        None, "--target-subset", help="Subset of the target host (DestinationRule subset)."
    ),
    route: str | None = typer.Option(
        None, "--route", help="Shift only the HTTP route with this name (default: all)."
    ),
    namespace: str | None = typer.Option(
        None,
        "-n",
        "--namespace",
        help="Namespace of --virtual-service (default: the context's, in a pod its own).",
    ),
    kubeconfig: str | None = typer.Option(
        None, "--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."
    ),
    context: str | None = typer.Option(None, "--context", help="Kubeconfig context to use."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="With --virtual-service: show the result, write nothing."
    ),
    output: OutputFormat | None = typer.Option(
        None,
        "-o",
        "--output",
        help="yaml or json (default: yaml with -f; a summary of the weights in the cluster).",
    ),
) -> None:
    """Rebalance the HTTP route weights of Istio VirtualServices.

    The target gets exactly --percentage, the others share the rest pro rata (sum 100).

    With -f, print the shifted manifests (other documents pass through unchanged). With
    --virtual-service, change the VirtualService in the cluster, retrying when someone else
    writes it at the same time (their change is kept).
    """
    request = _request(target_service, target_subset, percentage, route)
    if (file is None) == (virtual_service is None):
        fail("give exactly one of -f/--filename (a manifest) and --virtual-service (the cluster)")
    if virtual_service is not None:
        _shift_in_cluster(virtual_service, namespace, kubeconfig, context, request, dry_run, output)
        return
    assert file is not None
    for flag, value in (
        ("-n/--namespace", namespace),
        ("--kubeconfig", kubeconfig),
        ("--context", context),
        ("--dry-run", dry_run or None),
    ):
        if value is not None:
            fail(f"{flag}: only applies with --virtual-service (-f never touches the cluster)")
    documents = _read_documents(file)
    try:
        shifted = shift_documents(documents, request, source=_display_name(file))
    except SerinusError as exc:
        fail(_name_the_argument(exc, request))
    _render(shifted, output or OutputFormat.yaml)


def _shift_in_cluster(
    name: str,
    namespace: str | None,
    kubeconfig: str | None,
    context: str | None,
    request: TrafficShift,
    dry_run: bool,
    output: OutputFormat | None,
) -> None:
    for flag, value in (
        ("--virtual-service", name),
        ("-n/--namespace", namespace),
        ("--context", context),
        ("--kubeconfig", kubeconfig),
    ):
        if value is not None and not value.strip():
            fail(f"{flag}: must not be empty")
    try:
        client = KubeClient.auto(kubeconfig, context)
    except InvalidInput as exc:
        fail(f"--kubeconfig/--context: {exc}")
    except KubeError as exc:
        fail(str(exc))

    async def run() -> ShiftOutcome:
        async with client:
            ref = virtual_service_ref(namespace or client.default_namespace, name)
            return await shift_in_cluster(client, ref, request, dry_run=dry_run)

    try:
        outcome = asyncio.run(run())
    except NotFound as exc:
        flag = "--route" if isinstance(exc, UnknownRoute) else "--virtual-service"
        fail(f"{flag}: {exc}")
    except Forbidden as exc:
        fail(str(exc))
    except SerinusError as exc:
        fail(_name_the_argument(exc, request, "--virtual-service"))
    if output is not None:
        _render([outcome.after], output)
        return
    _summarise(outcome, request, dry_run)


def _summarise(outcome: ShiftOutcome, request: TrafficShift, dry_run: bool) -> None:
    name = f"virtualservice {outcome.ref.namespace}/{outcome.ref.name}"
    if dry_run:
        verdict = "would change (dry run, nothing written)" if outcome.changed else "unchanged"
    elif outcome.written:
        verdict = f"shifted (resourceVersion {_resource_version(outcome.after)})"
    else:
        verdict = "unchanged: the weights were already as asked"
    typer.echo(f"{name}: {verdict}")
    spec = outcome.after.get("spec") or {}
    named = set(http_route_names(outcome.after))
    for index, rule in enumerate(spec.get("http") or []):
        label = rule.get("name") if rule.get("name") in named else f"http[{index}]"
        if request.route is not None and label != request.route:
            continue
        if "route" not in rule:
            continue
        weights = ", ".join(
            f"{_destination(entry.get('destination') or {})}={entry.get('weight', 100)}"
            for entry in rule["route"]
        )
        typer.echo(f"  {label}: {weights}")


def _destination(destination: dict[str, Any]) -> str:
    host = str(destination.get("host", "?"))
    subset = destination.get("subset")
    return f"{host}/{subset}" if subset else host


def _resource_version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", "?"))


def _request(
    target_service: str, target_subset: str | None, percentage: int, route: str | None
) -> TrafficShift:
    for flag, value in (
        ("--target-service", target_service),
        ("--target-subset", target_subset),
        ("--route", route),
    ):
        if value is not None and not value.strip():
            fail(f"{flag}: must not be empty")
    return TrafficShift(ShiftTarget(target_service, target_subset), percentage, route)


def _display_name(file: str) -> str:
    return "stdin" if file == STDIN else file


def _read_documents(file: str) -> list[Any]:
    """The non-empty YAML documents of `file` (JSON is YAML too)."""
    if file == STDIN:
        text = sys.stdin.read()
    else:
        path = Path(file)
        if not path.is_file():
            problem = "no such file" if not path.exists() else "not a file"
            fail(f"-f {file}: {problem}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"-f {file}: cannot read it: {exc}")
    try:
        documents = [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as exc:
        fail(f"-f {_display_name(file)}: not valid YAML or JSON: {exc}")
    return documents


def _name_the_argument(error: SerinusError, request: TrafficShift, source_flag: str = "-f") -> str:
    """Prefix the error with the command-line argument the user has to change."""
    if isinstance(error, UnknownRoute):
        return f"--route: {error}"
    if isinstance(error, InvalidShift):
        flags = {
            "target": "--target-service"
            if request.target.subset is None
            else "--target-service/--target-subset",
            "percentage": "--percentage",
            "route": "--route",
        }
        return f"{flags[error.argument]}: {error}"
    if isinstance(error, InvalidInput):
        return f"{source_flag}: {error}"
    return str(error)


def _render(documents: list[Any], output: OutputFormat) -> None:
    if output is OutputFormat.json:
        # Several documents become a kubectl-style List, which `kubectl apply -f` accepts.
        many = {"apiVersion": "v1", "kind": "List", "items": documents}
        print_json(documents[0] if len(documents) == 1 else many)
        return
    typer.echo(
        yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, width=YAML_WIDTH),
        nl=False,
    )
