"""The fast path of `serinus abort|retry|pause|resume|promote|judge NAME` in the local mode.

Through typer and the pydantic models an operation costs a few hundred milliseconds of imports
before anything happens; aborting is when that hurts. This path parses the command line with the
standard library, reads the rollout's stored JSON and records the intent only when it can tell
that `app.operations.request` would accept the operation and write this very record: the same
JSON body byte for byte, inserted by the same statement (`sqlite_file.insert_intent`) in one
`BEGIN IMMEDIATE` transaction (the commit itself rings the driver's doorbell,
`app.driver.StoreBell`); then it prints the same line.

It never refuses anything itself. When it is not sure, it writes nothing and hands over to the
typer app, which does the whole operation and says what is wrong, as it always did: `--help`,
an option it does not know, `--wait`, `undo` (which rewrites the spec), the cluster mode, an
unknown rollout, an operation that does not apply to the phase, a decision on a revision or step
that moved on, a judgement's inputs it would refuse, a store that is locked or unreadable.
`tests/unit/entrypoints/cli/test_fast_path.py` holds both paths to that for every verb and flag.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The phases in which an operation applies (core.intents.refusal; a test compares them).
_ACTIVE = frozenset({"Provisioning", "Progressing", "Paused", "AwaitingJudgement"})
_AWAITING = "AwaitingJudgement"
_BOUND = frozenset({"judge", "promote", "promote-full"})  # operations.BOUND

_COMMENT = {"--comment": "comment", "-m": "comment"}
_SEEN = {"--revision": "revision", "--step": "step"}
OPTIONS: dict[str, dict[str, str]] = {
    "abort": _COMMENT,
    "retry": _COMMENT,
    "pause": _COMMENT,
    "resume": _COMMENT,
    "promote": {**_COMMENT, **_SEEN, "--full": "full"},
    "judge": {
        **_COMMENT,
        **_SEEN,
        "--approve": "approve",
        "--reject": "reject",
        "--input": "input",
        "-i": "input",
    },
}
_FLAGS = frozenset({"full", "approve", "reject"})
_POSITIVE = re.compile(r"[1-9][0-9]{0,8}")  # what typer's `int, min=1` surely accepts as is


@dataclass(frozen=True)
class Request:
    """An operation as the command line asked for it."""

    kind: str  # an IntentKind value
    name: str
    state_dir: Path | None = None
    comment: str = ""
    approve: bool | None = None  # judge only
    inputs: dict[str, str] = field(default_factory=dict)
    revision: int | None = None
    step: int | None = None  # 1-based, as `serinus get` shows it


def handled(argv: Sequence[str]) -> int | None:
    """Record the operation `argv` asks for and return the exit code, or None (nothing written)
    when the typer app should take the command instead."""
    request = parse(argv)
    if request is None or os.environ.get("SERINUS_MODE", "local") != "local":
        return None  # the cluster mode (or a bad SERINUS_MODE, which typer explains)
    if request.state_dir is None and os.environ.get("SERINUS_STATE_DIR") == "":
        return None  # typer may read an empty variable differently from app.settings
    from serinus.entrypoints.cli import local

    local.configure(request.state_dir)
    database = local.settings().database
    if not database.is_file():
        return None
    recorded = record(database, request, local.actor())
    if recorded is None:
        return None
    driven = local.driver_of(request.name) is not None
    print(
        recorded_line(
            request.kind, request.name, recorded, who_acts(request.name, False, driven=driven)
        )
    )
    return 0


def recorded_line(kind: str, name: str, intent_id: int, who: str) -> str:
    """What an operation recorded without waiting for its outcome prints (both paths)."""
    return f"{kind} of {name} recorded (#{intent_id}); {who}"


def who_acts(name: str, cluster: bool, *, driven: bool) -> str:
    if cluster:
        return "the operator acts on it at its next reconcile"
    if not driven:
        return f"no driver is running: `serinus run {name}` acts on it"
    return f"the driver acts on it (`serinus get {name}` shows the outcome)"


# --- the command line ----------------------------------------------------------------------


def parse(argv: Sequence[str]) -> Request | None:
    """The operation of a command line in exactly the forms this path knows, else None."""
    args = list(argv)
    state_dir: Path | None = None
    while args and args[0].startswith("-"):
        taken = _take(args, {"--state-dir": "state_dir"})
        if taken is None or not taken[1]:
            return None
        state_dir = Path(taken[1])
    if not args or args[0] not in OPTIONS:
        return None
    verb = args.pop(0)
    values: dict[str, str] = {}
    inputs: list[str] = []
    names: list[str] = []
    while args:
        if not args[0].startswith("-"):
            names.append(args.pop(0))
            continue
        taken = _take(args, OPTIONS[verb])
        if taken is None:
            return None
        if taken[0] == "input":
            inputs.append(taken[1])
        else:
            values[taken[0]] = taken[1]  # the last one wins, as with typer
    parsed = _inputs(inputs)
    try:
        revision, step = _positive(values.get("revision")), _positive(values.get("step"))
    except ValueError:
        return None
    if len(names) != 1 or parsed is None:
        return None
    approve: bool | None = None
    if verb == "judge":
        if ("approve" in values) == ("reject" in values):
            return None
        approve = "approve" in values
    return Request(
        kind="promote-full" if "full" in values else verb,
        name=names[0],
        state_dir=state_dir,
        comment=values.get("comment", ""),
        approve=approve,
        inputs=parsed,
        revision=revision,
        step=step,
    )


def _take(args: list[str], known: Mapping[str, str]) -> tuple[str, str] | None:
    """Pop one option (and its value) off `args`: (field, value), or None if it is not known."""
    token = args.pop(0)
    option, equals, attached = token.partition("=") if token.startswith("--") else (token, "", "")
    key = known.get(option)
    if key is None:
        return None
    if key in _FLAGS:
        return None if equals else (key, "")
    if equals:
        return key, attached
    if args and not args[0].startswith("-"):
        return key, args.pop(0)
    return None  # a missing value, or one that looks like an option: typer decides


def _inputs(items: Sequence[str]) -> dict[str, str] | None:
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            return None
        parsed[key] = value
    return parsed


def _positive(text: str | None) -> int | None:
    """The number, None when not given; ValueError when typer should judge the text."""
    if text is None:
        return None
    if not _POSITIVE.fullmatch(text):
        raise ValueError(text)
    return int(text)


# --- the record ----------------------------------------------------------------------------


class _HandOver(Exception):
    """The operation is not one this path is sure of: roll back, let typer do it."""


def record(database: Path, request: Request, actor: str) -> int | None:
    """The id of the intent recorded for `request`, or None when nothing was written."""
    from serinus.adapters.stores import sqlite_file

    try:
        conn = sqlite_file.connect(database)
    except Exception:  # the typer path opens it again and says what is wrong
        return None
    try:
        with sqlite_file.transaction(conn):
            row = conn.execute(
                "SELECT spec, status FROM rollouts WHERE name = ?", (request.name,)
            ).fetchone()
            if row is None or row[1] is None:
                raise _HandOver
            body = intent_body(request, json.loads(row[0]), json.loads(row[1]), actor)
            if body is None:
                raise _HandOver
            recorded = sqlite_file.insert_intent(conn, request.name, sqlite_file.dumps(body), None)
    except Exception:  # rolled back, nothing written: the typer path decides and explains
        return None
    finally:
        conn.close()
    return recorded


def intent_body(
    request: Request, spec: dict[str, Any], status: dict[str, Any], actor: str
) -> dict[str, Any] | None:
    """The intent as `Intent.model_dump(mode="json", exclude={"id", "outcome"})` writes it, when
    `operations.request` would accept the operation on this stored spec and status, else None."""
    if not _applies(request.kind, status):
        return None
    bound = _binding(request, status)
    if bound is None:
        return None
    if request.kind == "judge" and not _inputs_accepted(request, spec, status):
        return None
    revision, step = bound
    return {
        "kind": request.kind,
        "actor": actor,
        "source": "cli",
        "at": time.time(),
        "approve": request.approve,
        "inputs": dict(request.inputs),
        "comment": request.comment,
        "revision": revision,
        "step": step,
        "grants": {"verbs": None, "roles": None},  # UNRESTRICTED: the local CLI has no roles
        "groups": [],
        "proof": "",
    }


def _applies(kind: str, status: dict[str, Any]) -> bool:
    """Where `core.intents.refusal` says None (a test holds the two to the same answers)."""
    phase: str = status["phase"]
    if kind == "abort":
        scaling_down = phase == "ScalingDown" and bool(status["teardowns"])
        return phase in _ACTIVE or phase == "Promoting" or scaling_down
    if kind == "retry":
        return phase in ("Aborted", "Failed") and status["canary"] is not None
    if kind == "judge":
        return phase == _AWAITING
    if phase not in _ACTIVE:
        return False
    paused: bool = status["pausedByUser"]
    if kind == "pause":
        return paused is False
    if kind == "resume":
        return paused is True
    if status["canary"] is None:  # a first deployment: nothing to promote
        return False
    if kind == "promote":
        return phase != _AWAITING
    return kind == "promote-full"


def _binding(request: Request, status: dict[str, Any]) -> tuple[int | None, int | None] | None:
    """(revision, step) recorded on the intent, or None when what the caller saw moved on."""
    now_revision, now_step = status["revision"], status["stepIndex"]
    if type(now_revision) is not int or type(now_step) is not int:
        return None
    revision = request.revision
    step = None if request.step is None else request.step - 1
    if (revision is not None and revision != now_revision) or (
        step is not None and step != now_step
    ):
        return None
    if request.kind in _BOUND:
        revision = now_revision if revision is None else revision
        if step is None and request.kind != "promote-full":
            step = now_step  # a full promotion may start from any step
    return revision, step


def _inputs_accepted(request: Request, spec: dict[str, Any], status: dict[str, Any]) -> bool:
    """Whether `operations.request` takes these judgement inputs at the current step."""
    strategy = spec["spec"]["strategy"]
    chosen = strategy.get("blueGreenCanary")
    chosen = strategy.get("canary") if chosen is None else chosen
    if chosen is None:
        return False  # blueGreen and rollingUpdate plan their own steps: typer decides
    steps, index = chosen["steps"], status["stepIndex"]
    if not 0 <= index < len(steps):
        return False
    judgement = steps[index].get("judgement")
    if judgement is None:
        return True  # an inconclusive analysis waits for a person: it defines no inputs
    defined = judgement["inputs"]
    if any(name not in {item["name"] for item in defined} for name in request.inputs):
        return False
    for item in defined:
        value = request.inputs.get(item["name"])
        if value is None:
            if item["required"] and request.approve:
                return False
        elif item["options"] and value not in item["options"]:
            return False
    return True
