"""`serinus serve`: the REST API and dashboard over the local state; `serinus token`: API users.

Tokens are shown once, when created, and only their SHA-256 hashes are written to the tokens
file, optionally with an expiry (`--expires 30d`). `token hash` and `token revoke` read the
token from stdin so it never lands in the shell history or `ps`. `serinus serve` re-reads the
file when it changes: a revoked token is refused from the next request on.
"""

from __future__ import annotations

import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import typer
import yaml

from serinus.core.errors import InvalidInput
from serinus.entrypoints.api.access import TokensAccess
from serinus.entrypoints.api.auth import (
    TOKENS_FILE_ENV,
    Role,
    StoredToken,
    TokensFile,
    UserEntry,
    hash_token,
    iso_utc,
    new_token,
    tokens_file_of,
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
        # Re-read when it changes: revocations and new tokens apply without a restart.
        access = TokensAccess.watching(tokens_file_of(tokens_file))
    except InvalidInput as exc:
        fail(str(exc), code=2)
    auth = access.config
    if not auth.users:
        fail(f"{tokens_file or TOKENS_FILE_ENV}: no users; add one with `serinus token add`", 2)

    async def work() -> None:
        async with opened_store() as store:
            api = create_app(store, access, poll_seconds=poll)
            shown = f"[{host}]" if ":" in host else host
            console.print(
                f"serinus dashboard on http://{shown}:{port}/ "
                f"(state {settings().state_dir}, users: {', '.join(auth.users)})",
                markup=False,
            )
            await serve_app(api, host, port)

    run_async(work)


EXPIRES = typer.Option(
    None,
    "--expires",
    help="When the token stops working: a time from now (30d, 12h, 90m) or a UTC time "
    "(2026-12-31T00:00:00Z). Default: never.",
)
_SPAN = re.compile(r"([1-9]\d{0,4})([dhm])")  # 1 to 99999 days, hours or minutes
_SPAN_SECONDS = {"d": 86400, "h": 3600, "m": 60}


def expiry(text: str, now: float) -> float:
    """Epoch seconds of `--expires`: `30d`, `12h`, `90m` from now, or an ISO time with a zone."""
    if span := _SPAN.fullmatch(text):
        return now + int(span[1]) * _SPAN_SECONDS[span[2]]
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InvalidInput(
            [f"--expires: {text!r} is neither a time from now (30d, 12h, 90m) nor a time "
             "with its zone (2026-12-31T00:00:00Z)"]
        )  # fmt: skip
    if at.timestamp() <= now:
        raise InvalidInput([f"--expires: {iso_utc(at.timestamp())} is already past"])
    return at.timestamp()


def _stored_token(token: str, expires: str | None) -> StoredToken:
    if expires is None:
        return StoredToken(hash=hash_token(token))
    try:
        at = expiry(expires, time.time())
    except InvalidInput as exc:
        fail(str(exc), 2)
    return StoredToken(hash=hash_token(token), expires=datetime.fromtimestamp(at, UTC))


def _read_stdin_token(command: str) -> str:
    token = sys.stdin.readline().strip()
    if not token:
        fail(
            f"stdin: give the token on standard input, e.g. `serinus token {command} < token.txt`",
            2,
        )
    return token


@token_app.command("hash")
def hash_command(expires: str | None = EXPIRES) -> None:
    """Print the hash of a token read from stdin (an entry for the tokens file's `tokens`)."""
    stored = _stored_token(_read_stdin_token("hash"), expires)
    if stored.expires is None:
        typer.echo(stored.hash)
    else:
        typer.echo(f'{{hash: "{stored.hash}", expires: {iso_utc(stored.expires.timestamp())}}}')


def _load_tokens_file(path: Path) -> TokensFile:
    if not path.exists():
        return TokensFile()
    try:
        return TokensFile.model_validate(yaml.safe_load(path.read_text()) or {})
    except (yaml.YAMLError, ValueError) as exc:
        fail(f"{path}: not a valid tokens file: {exc}", 2)


def _write_tokens_file(path: Path, content: TokensFile) -> None:
    """Replace the file at once (a new inode): `serinus serve` never reads it half-written."""
    text = yaml.safe_dump(content.stored(), sort_keys=False)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    partial.replace(path)


TOKENS_FILE_TO_EDIT = typer.Option(
    ..., "--file", "-f", envvar=TOKENS_FILE_ENV, help="The tokens file to create or update."
)


@token_app.command("add")
def add_command(
    name: str = typer.Argument(..., help="The user's name (shown in the audit trail)."),
    roles: list[str] = typer.Option(
        ..., "--role", "-r", help="viewer, deployer, approver or a custom role; repeatable."
    ),
    tokens_file: Path = TOKENS_FILE_TO_EDIT,
    expires: str | None = EXPIRES,
) -> None:
    """Create a token for a user (added to the file); the token is printed once."""
    token = new_token()
    stored = _stored_token(token, expires)
    content = _load_tokens_file(tokens_file)
    users = list(content.users)
    index = next((i for i, user in enumerate(users) if user.name == name), None)
    before = users[index] if index is not None else None
    try:
        entry = UserEntry(
            name=name,
            roles=sorted(set(before.roles if before else []) | set(roles)),
            tokens=[*(before.tokens if before else []), stored],
        )
    except ValueError as exc:
        fail(f"user {name!r}: {exc}", 2)
    if index is None:
        users.append(entry)
    else:
        users[index] = entry
    _write_tokens_file(tokens_file, content.model_copy(update={"users": users}))
    known = {role.value for role in Role}
    custom = sorted(set(roles) - known)
    until = f"; expires {iso_utc(stored.expires.timestamp())}" if stored.expires else ""
    console.print(
        f"token for {name} (roles: {', '.join(entry.roles)}) added to {tokens_file}"
        + (f"; custom roles: {', '.join(custom)}" if custom else "")
        + until,
        markup=False,
    )
    console.print("it is shown only now; keep it secret:", markup=False)
    typer.echo(token)


@token_app.command("revoke")
def revoke_command(tokens_file: Path = TOKENS_FILE_TO_EDIT) -> None:
    """Revoke the token read from stdin: `serinus serve` refuses it from its next request on."""
    digest = hash_token(_read_stdin_token("revoke"))
    if not tokens_file.exists():
        fail(f"{tokens_file}: no such tokens file", 2)
    content = _load_tokens_file(tokens_file)
    owners = [u.name for u in content.users if any(t.hash == digest for t in u.tokens)]
    if digest not in content.revoked:
        revoked = [*content.revoked, digest]
        _write_tokens_file(tokens_file, content.model_copy(update={"revoked": revoked}))
    whose = f"{owners[0]}'s token" if owners else "a token no user lists"
    console.print(f"revoked {whose} in {tokens_file}", markup=False)
