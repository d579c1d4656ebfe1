"""`serinus serve`: the REST API and dashboard over the local state; `serinus token`: API users.

Tokens are shown once, when created, and only their SHA-256 hashes are written to the tokens
file. `token hash` reads the token from stdin so it never lands in the shell history or `ps`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer
import yaml

from serinus.core.errors import InvalidInput
from serinus.entrypoints.api.auth import (
    TOKENS_FILE_ENV,
    AuthConfig,
    Role,
    TokensFile,
    UserEntry,
    hash_token,
    new_token,
)
from serinus.entrypoints.cli.local import opened_store, run_async, settings
from serinus.entrypoints.cli.main import app
from serinus.entrypoints.cli.output import console, fail

token_app = typer.Typer(help="Create API tokens for `serinus serve` (only hashes are stored).")
app.add_typer(token_app, name="token")

TOKENS_FILE = typer.Option(
    None,
    "--tokens-file",
    envvar=TOKENS_FILE_ENV,
    help=f"YAML file of users, roles and token hashes (or set {TOKENS_FILE_ENV}).",
)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8686, "--port", min=0, max=65535, help="Port to listen on."),
    tokens_file: Path | None = TOKENS_FILE,
    poll: float = typer.Option(
        0.5, "--poll", min=0.05, max=10.0, help="Seconds between store polls for live views."
    ),
) -> None:
    """Serve the REST API and the web dashboard for the rollouts in the state directory."""
    from serinus.entrypoints.api import create_app
    from serinus.entrypoints.api.server import serve as serve_app

    try:
        auth = AuthConfig.from_environment(tokens_file)
    except InvalidInput as exc:
        fail(str(exc), code=2)
    if not auth.users:
        fail(f"{tokens_file or TOKENS_FILE_ENV}: no users; add one with `serinus token add`", 2)

    async def work() -> None:
        async with opened_store() as store:
            api = create_app(store, auth, poll_seconds=poll)
            shown = f"[{host}]" if ":" in host else host
            console.print(
                f"serinus dashboard on http://{shown}:{port}/ "
                f"(state {settings().state_dir}, users: {', '.join(auth.users)})",
                markup=False,
            )
            await serve_app(api, host, port)

    run_async(work)


@token_app.command("hash")
def hash_command() -> None:
    """Print the hash of a token read from stdin (for the tokens file)."""
    token = sys.stdin.readline().strip()
    if not token:
        fail("stdin: give the token on standard input, e.g. `serinus token hash < token.txt`", 2)
    typer.echo(hash_token(token))


@token_app.command("add")
def add_command(
    name: str = typer.Argument(..., help="The user's name (shown in the audit trail)."),
    roles: list[str] = typer.Option(
        ..., "--role", "-r", help="viewer, deployer, approver or a custom role; repeatable."
    ),
    tokens_file: Path = typer.Option(
        ..., "--file", "-f", envvar=TOKENS_FILE_ENV, help="The tokens file to create or update."
    ),
) -> None:
    """Create a token for a user (added to the file); the token is printed once."""
    token = new_token()
    data: dict[str, Any] = {"users": []}
    if tokens_file.exists():
        try:
            data = TokensFile.model_validate(
                yaml.safe_load(tokens_file.read_text()) or {}
            ).model_dump()
        except (yaml.YAMLError, ValueError) as exc:
            fail(f"{tokens_file}: not a valid tokens file: {exc}", 2)
    users: list[dict[str, Any]] = data["users"]
    entry = next((user for user in users if user["name"] == name), None)
    if entry is None:
        entry = {"name": name, "roles": [], "tokens": []}
        users.append(entry)
    entry["roles"] = sorted(set(entry["roles"]) | set(roles))
    entry["tokens"].append(hash_token(token))
    try:
        UserEntry.model_validate(entry)
    except ValueError as exc:
        fail(f"user {name!r}: {exc}", 2)
    text = yaml.safe_dump({"users": users}, sort_keys=False)
    fd = os.open(tokens_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    known = {role.value for role in Role}
    custom = sorted(set(roles) - known)
    console.print(
        f"token for {name} (roles: {', '.join(entry['roles'])}) added to {tokens_file}"
        + (f"; custom roles: {', '.join(custom)}" if custom else ""),
        markup=False,
    )
    console.print("it is shown only now; keep it secret:", markup=False)
    typer.echo(token)
