"""`serinus shift`: the seed's istio-traffic-shifter, offline, on VirtualService manifests.

Reads YAML or JSON (several documents allowed; `-f -` reads stdin), shifts every
VirtualService with `serinus.core.virtualservice`, passes other documents through, and prints
the result. The command is I/O only: reading, error wording and rendering. The transformation
is pure, so an in-cluster variant (read the object, shift it, write it back with its
resourceVersion) only adds another source and sink around `shift_documents`.

Comments and quoting style of the input are not kept (the YAML is parsed and dumped again);
values, key order and document order are.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.markup import escape

from serinus.core.errors import InvalidInput, SerinusError
from serinus.core.virtualservice import (
    InvalidShift,
    ShiftTarget,
    TrafficShift,
    UnknownRoute,
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
    file: str = typer.Option(
        ...,
        "-f",
        "--filename",
        metavar="FILE",
        help="VirtualService manifest (YAML or JSON, several documents allowed); '-' reads stdin.",
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
    output: OutputFormat = typer.Option(OutputFormat.yaml, "-o", "--output", help="yaml or json."),
) -> None:
    """Rebalance the HTTP route weights of Istio VirtualServices and print the result.

    The target gets exactly --percentage, the others share the rest pro rata (sum 100).

    Other documents pass through unchanged.
    """
    request = _request(target_service, target_subset, percentage, route)
    documents = _read_documents(file)
    try:
        shifted = shift_documents(documents, request, source=_display_name(file))
    except SerinusError as exc:
        # escape: messages quote user data (route names, YAML), never rich markup
        fail(escape(_name_the_argument(exc, request)))
    _render(shifted, output)


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
            fail(escape(f"-f {file}: {problem}"))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(escape(f"-f {file}: cannot read it: {exc}"))
    try:
        documents = [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as exc:
        fail(escape(f"-f {_display_name(file)}: not valid YAML or JSON: {exc}"))
    return documents


def _name_the_argument(error: SerinusError, request: TrafficShift) -> str:
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
        return f"-f: {error}"
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
