"""Shared rendering for CLI commands: consoles, errors and machine output (JSON, YAML)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

OUTPUT = typer.Option("table", "--output", "-o", help="Output format: table, wide, json or yaml.")


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/] {escape(message)}", markup=True)
    raise typer.Exit(code)


def check_output(output: str, allowed: Sequence[str] = ("table", "wide", "json", "yaml")) -> None:
    if output not in allowed:
        expected = ", ".join(repr(choice) for choice in allowed)
        fail(f"--output: expected one of {expected}, got {output!r}", code=2)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def emit(data: Any, output: str) -> None:
    """Print `data` (plain JSON types) as JSON or YAML."""
    if output == "yaml":
        import yaml

        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)
    else:
        print_json(data)
