"""Performing the webhook gates that are due: what `app/analysis.py` is to measurements.

The core records a gate as Pending when the rollout reaches it (`core/strategy/gates.py`); each
reconcile, the engine asks `GateRunner.call_due` to make the due calls, concurrently, and hands
the new states back to `decide` through `Observed.gates`. The body is built here from the status
(never from anything a receiver sent); a missing HMAC key or metadata that cannot be rendered is
a failed call with a fixed description, and nothing is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Protocol

from serinus.core.errors import InvalidInput, SerinusError
from serinus.core.gates import GateCall, GateState, Webhook, record_call, rendered_metadata
from serinus.core.ports import SecretResolver
from serinus.core.spec import Rollout
from serinus.core.status import RolloutStatus
from serinus.core.strategy.gates import due_gates, webhook_for


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

    def __init__(self, caller: GateCaller, secrets: SecretResolver) -> None:
        self._caller = caller
        self._secrets = secrets

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
        return record_call(
            gate, await self._perform(rollout, status, gate, webhook), now, policy, webhook.interval
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
        return await self._caller.call(
            webhook.url,
            gate_body(rollout, status, gate, metadata),
            secret=secret,
            timeout=webhook.timeout,
            retries=webhook.retries,
            hook=gate.kind,
            delivery=delivery_id(rollout, gate),
        )


def local_gates() -> GateRunner:
    """The local mode's: HMAC keys from the environment, no egress guard."""
    from serinus.adapters.gates.http import HttpGateCaller
    from serinus.app.notifications import EnvSecretResolver

    return GateRunner(HttpGateCaller(), EnvSecretResolver())
