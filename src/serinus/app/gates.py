"""Performing the webhook gates that are due: what `app/analysis.py` is to measurements.

The core records a gate as Pending when the rollout reaches it (`core/strategy/gates.py`); each
reconcile, the engine asks `GateRunner.call_due` to make the due calls, concurrently, and hands
the new states back to `decide` through `Observed.gates`. The body is built here from the status
(never from anything a receiver sent); a missing HMAC key or metadata that cannot be rendered is
a failed call with a fixed description, and nothing is sent.

A job gate (`job:`) is run by the job metric provider's own code (`JobProvider`: the Job under
the named ServiceAccount, owned by the Rollout, found again by its name after a restart, deleted
once read): one Job per call, its name derived from the gate and the call's number. While it
runs the call is pending (asked again after `JOB_POLL_SECONDS`); Complete passes, Failed or past
`job.timeout` fails. Each container gets the gate's body in `SERINUS_GATE`.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from typing import Protocol

from serinus.core.analysis.spec import JobSource
from serinus.core.errors import InvalidInput, MetricsError, SerinusError
from serinus.core.gates import GateCall, GateState, Webhook, record_call, rendered_metadata
from serinus.core.ports import SecretResolver
from serinus.core.spec import Rollout
from serinus.core.status import RolloutStatus
from serinus.core.strategy.gates import due_gates, webhook_for

JOB_POLL_SECONDS = 5.0  # between reads of a running gate Job
GATE_ENV = "SERINUS_GATE"


class GateCaller(Protocol):
    async def call(
        self,
        url: str,
        body: bytes,
        *,
        secret: str | None,
        timeout: float,
        retries: int,
        hook: str,
        delivery: str,
    ) -> GateCall:
        """One call, retries included; every failure is a GateCall with ok=False."""


class GateJobs(Protocol):
    """Runs a check as a Kubernetes Job (the job metric provider, `JobProvider`)."""

    async def measure_keyed(
        self, source: JobSource, run: str, metric: str, index: int
    ) -> list[float] | None:
        """[1.0] when the Job succeeded, [0.0] when it failed, None while it runs."""


def gate_body(
    rollout: Rollout, status: RolloutStatus, gate: GateState, metadata: dict[str, str]
) -> bytes:
    """The exact bytes sent and signed (compact, keys sorted)."""
    document = {
        "rollout": rollout.name,
        "namespace": rollout.metadata.namespace,
        "phase": status.phase.value,
        "hook": gate.kind,
        "name": gate.name,
        "gate": gate.id,
        "step": gate.step,
        "canaryVersion": gate.variables.get("canary.version"),
        "stableVersion": gate.variables.get("stable.version"),
        "metadata": metadata,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def delivery_id(rollout: Rollout, gate: GateState) -> str:
    """The same for every call of one gate in one rollout, so receivers can drop duplicates."""
    key = f"{rollout.metadata.namespace}\x00{rollout.name}\x00{gate.id}\x00{gate.started_at!r}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _not_sent(description: str) -> GateCall:
    return GateCall(ok=False, status_code=None, duration=0.0, attempts=0, description=description)


class GateRunner:
    """Secrets come from `secrets` in the rollout's namespace (Kubernetes Secrets in the
    operator, the environment in the local mode)."""

    def __init__(
        self, caller: GateCaller, secrets: SecretResolver, jobs: GateJobs | None = None
    ) -> None:
        self._caller = caller
        self._secrets = secrets
        self._jobs = jobs  # None: no cluster (the local mode), a job gate cannot run

    async def call_due(
        self, rollout: Rollout, status: RolloutStatus, now: float
    ) -> list[GateState]:
        """The due gates after one call each; the others are left out (nothing changed)."""
        due = due_gates(status, now)
        if not due:
            return []
        return list(await asyncio.gather(*(self._call(rollout, status, g, now) for g in due)))

    async def _call(
        self, rollout: Rollout, status: RolloutStatus, gate: GateState, now: float
    ) -> GateState:
        found = webhook_for(rollout.spec, gate)
        if found is None:  # the spec changed under the rollout: nothing to call
            return record_call(gate, _not_sent("no longer in the spec"), now, "continue", 0.0)
        webhook, policy = found
        if webhook.job is not None:
            call = await self._run_job(rollout, status, gate, webhook, webhook.job, now)
        else:
            call = await self._perform(rollout, status, gate, webhook)
        return record_call(gate, call, now, policy, webhook.interval)

    async def _run_job(
        self,
        rollout: Rollout,
        status: RolloutStatus,
        gate: GateState,
        webhook: Webhook,
        source: JobSource,
        now: float,
    ) -> GateCall:
        if self._jobs is None:
            return _not_sent("a job gate needs a Kubernetes cluster (the operator)")
        try:
            metadata = rendered_metadata(webhook, gate.variables, gate.id)
        except InvalidInput as exc:
            return _not_sent(f"metadata cannot be rendered: {'; '.join(exc.problems)}")
        body = gate_body(rollout, status, gate, metadata).decode()
        since = now - gate.started_at  # for a job: seconds since the gate was first due
        try:
            outcome = await self._jobs.measure_keyed(
                _with_env(source, body), f"{gate.id}@{gate.started_at!r}", gate.name, gate.calls
            )
        except MetricsError as exc:
            return GateCall(
                ok=False, status_code=None, duration=since, attempts=1, description=str(exc)
            )
        if outcome is None:
            return GateCall(
                ok=False,
                status_code=None,
                duration=since,
                attempts=0,
                description="job running",
                pending=True,
                next_in=JOB_POLL_SECONDS,
            )
        ok = outcome == [1.0]
        description = "job succeeded" if ok else "job failed"
        return GateCall(
            ok=ok, status_code=None, duration=since, attempts=1, description=description
        )

    async def _perform(
        self, rollout: Rollout, status: RolloutStatus, gate: GateState, webhook: Webhook
    ) -> GateCall:
        try:
            metadata = rendered_metadata(webhook, gate.variables, gate.id)
        except InvalidInput as exc:
            return _not_sent(f"metadata cannot be rendered: {'; '.join(exc.problems)}")
        secret = None
        if webhook.secret is not None:
            try:
                secret = await self._secrets.resolve(webhook.secret, rollout.metadata.namespace)
            except SerinusError:
                return _not_sent(f"the HMAC key cannot be read ({webhook.secret.describe()})")
        if webhook.url is None:  # not reached: a gate is a url or a job (validated)
            return _not_sent("the gate has neither url nor job")
        return await self._caller.call(
            webhook.url,
            gate_body(rollout, status, gate, metadata),
            secret=secret,
            timeout=webhook.timeout,
            retries=webhook.retries,
            hook=gate.kind,
            delivery=delivery_id(rollout, gate),
        )


def _with_env(source: JobSource, body: str) -> JobSource:
    """The Job with the gate's body in every container's environment."""
    spec = copy.deepcopy(source.spec)
    for container in spec["template"]["spec"]["containers"]:
        env = [e for e in container.get("env") or [] if e.get("name") != GATE_ENV]
        container["env"] = [*env, {"name": GATE_ENV, "value": body}]
    return source.model_copy(update={"spec": spec})


def local_gates() -> GateRunner:
    """The local mode's: HMAC keys from the environment, no egress guard."""
    from serinus.adapters.gates.http import HttpGateCaller
    from serinus.app.notifications import EnvSecretResolver

    return GateRunner(HttpGateCaller(), EnvSecretResolver())
