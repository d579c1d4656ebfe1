"""Webhook gates: the spec of a gate, its persisted state, and the pure rules of its outcome.

A gate is an HTTP call that an external system answers, or a Kubernetes Job that succeeds or
fails (`job`, the job metric provider's `JobSource`, with its checks: a named ServiceAccount,
nothing run in the operator's pod): a `webhook` step, or a strategy-level hook at one of
Flagger's points. The core decides *which* call is due (from the status and the time) and *what*
an answer does; the app makes the call (or creates and reads the Job) and hands back a
`GateCall` (status code, duration, attempts and a fixed description: nothing the receiver
wrote; `pending` while a Job runs). See docs/webhooks.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from serinus.core.analysis.spec import JobSource
from serinus.core.analysis.templating import render_text, variables_in
from serinus.core.notification_spec import SecretRef
from serinus.core.spec_base import (
    DNS_LABEL,
    MAX_MAP,
    PositiveDuration,
    SpecModel,
    StatusModel,
    Text,
    Url,
    keys_matching,
)

HookType = Literal[
    "preRollout",
    "confirmRollout",
    "confirmTrafficIncrease",
    "confirmPromotion",
    "postRollout",
    "rollback",
]
OnFailure = Literal["abort", "hold", "continue"]
# Hooks that only report: their failure is recorded and never blocks or aborts the rollout.
NON_BLOCKING: frozenset[str] = frozenset({"postRollout", "rollback"})
DEFAULT_ON_FAILURE: dict[str, OnFailure] = {
    "step": "abort",
    "preRollout": "abort",
    "confirmRollout": "hold",
    "confirmTrafficIncrease": "hold",
    "confirmPromotion": "hold",
    "postRollout": "continue",
    "rollback": "continue",
}
# The variables a gate's metadata may use; the engine fills them in at call time.
VARIABLES = frozenset(
    {"rollout.name", "canary.version", "canary.color", "stable.version", "stable.color"}
)
META_KEY = r"^[A-Za-z0-9][-A-Za-z0-9_.]*$"


class Webhook(SpecModel):
    """One HTTP POST (`url`), 2xx passes; or one Kubernetes Job (`job`), success passes.
    Anything else is handled by `onFailure`."""

    name: str = Field(pattern=DNS_LABEL, max_length=63)
    url: Url | None = None
    # A Job: its deadline is job.timeout and its retries the Job's backoffLimit (timeout,
    # retries and secret are the HTTP call's).
    job: JobSource | None = None
    timeout: PositiveDuration = 10.0
    retries: int = Field(default=2, ge=0, le=10, strict=True)
    on_failure: OnFailure | None = None  # None: the default of the hook type (see docs)
    interval: PositiveDuration = 10.0  # between calls of a held gate
    metadata: Annotated[dict[str, Text], keys_matching(META_KEY, "a metadata key")] = Field(
        default_factory=dict, max_length=MAX_MAP
    )
    secret: SecretRef | None = None  # the HMAC key; unsigned without it

    @model_validator(mode="after")
    def _url_or_job(self) -> Webhook:
        if (self.url is None) == (self.job is None):
            raise ValueError("url, job: exactly one of them (an HTTP call or a Kubernetes Job)")
        if self.job is not None and self.secret is not None:
            raise ValueError("secret: signs HTTP calls; a job gate sends none")
        return self

    @model_validator(mode="after")
    def _known_variables(self) -> Webhook:
        for key, value in self.metadata.items():
            unknown = [v for v in variables_in(value) if v not in VARIABLES]
            if unknown:
                known = ", ".join(sorted(VARIABLES))
                names = ", ".join("{{" + v + "}}" for v in unknown)
                raise ValueError(f"metadata.{key}: unknown variable {names} (known: {known})")
        return self


# Flagger's types that serinus covers another way: the lint error says which.
_OTHER_WAY = {
    "event": "every event is delivered by spec.notifications (a webhook channel)",
    "rollout": "use a webhook step, or a web metric in an analysis",
}


class Hook(Webhook):
    """A strategy-level webhook at one of Flagger's hook points."""

    type: HookType

    @field_validator("type", mode="before")
    @classmethod
    def _covered_otherwise(cls, value: object) -> object:
        if isinstance(value, str) and value in _OTHER_WAY:
            raise ValueError(f"{value} is not a hook type here: {_OTHER_WAY[value]}")
        return value

    @model_validator(mode="after")
    def _reporting_only(self) -> Hook:
        if self.type in NON_BLOCKING and self.on_failure not in (None, "continue"):
            raise ValueError(f"onFailure: a {self.type} hook never blocks; only continue applies")
        return self


def on_failure_of(webhook: Webhook, kind: str) -> OnFailure:
    return webhook.on_failure or DEFAULT_ON_FAILURE[kind]


class GatePhase(StrEnum):
    PENDING = "Pending"  # a call is due at `next_at`
    PASSED = "Passed"
    FAILED = "Failed"  # failed for good (retries spent, onFailure not hold)
    CANCELLED = "Cancelled"  # never called again: the rollout left the point it guarded


class GateState(StatusModel):
    """One gate of the current rollout, as persisted: never anything the receiver answered."""

    id: str  # unique within a rollout: `preRollout/smoke`, `steps[2]`, ...
    name: str
    kind: str  # "step" or the hook type
    step: int | None = None  # the step it belongs to (webhook steps, confirmTrafficIncrease)
    started_at: float
    phase: GatePhase = GatePhase.PENDING
    next_at: float = 0.0
    calls: int = 0  # calls made (each of up to 1 + retries attempts)
    attempts: int = 0  # attempts of the last call
    status_code: int | None = None  # of the last attempt; None: no HTTP answer
    duration: float | None = None  # seconds the last call took, retries included
    description: str = ""  # fixed text: "HTTP 503", "timed out after 5s", ...
    variables: dict[str, str] = Field(default_factory=dict)  # for metadata, fixed when due


class GateCall(StatusModel):
    """What the app reports of one call: `ok` is a 2xx on some attempt (or the Job succeeded);
    `pending`: the Job still runs, the call is not over (asked again after `next_in` seconds)."""

    ok: bool
    status_code: int | None
    duration: float
    attempts: int
    description: str
    pending: bool = False
    next_in: float = 0.0


def record_call(
    state: GateState, call: GateCall, now: float, policy: OnFailure, interval: float
) -> GateState:
    """The state after a call: passed on 2xx; else held for `interval`, or failed for good.
    A call still pending (a Job running) is not counted: the same call is asked again."""
    if call.pending:
        return state.model_copy(
            update={"next_at": now + call.next_in, "description": call.description}
        )
    update: dict[str, object] = {
        "calls": state.calls + 1,
        "attempts": call.attempts,
        "status_code": call.status_code,
        "duration": round(call.duration, 3),
        "description": call.description,
    }
    if call.ok:
        update["phase"] = GatePhase.PASSED
    elif policy == "hold":
        update["next_at"] = now + interval
    else:
        update["phase"] = GatePhase.FAILED
    return state.model_copy(update=update)


def rendered_metadata(webhook: Webhook, variables: Mapping[str, str], where: str) -> dict[str, str]:
    """The metadata with `{{canary.version}}`-style variables filled in."""
    return {
        key: render_text(value, variables, f"{where}.metadata.{key}")
        for key, value in webhook.metadata.items()
    }
