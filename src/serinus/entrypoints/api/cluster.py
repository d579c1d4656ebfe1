"""The operator's intent key (who the caller is, Kubernetes identity or a tokens file, is chosen
in `entrypoints/operator/runtime.py`).

Operations the API records are sealed with the operator's intent key, and the engine trusts the
rights recorded on an intent only if its seal verifies (`core.authorization.vouched`): an intent
written straight into a Rollout's status cannot pass a role-gated judgement. Every replica must
hold the same key to vouch for each other's operations: mount one Secret and name the file in
SERINUS_INTENT_KEY_FILE. Without it each process makes its own key, which is right for one
replica; with several, a role-gated decision recorded by a standby is refused by the leader
(safe, and the refusal says which role it lacked).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from serinus.core.errors import InvalidInput

INTENT_KEY_ENV = "SERINUS_INTENT_KEY_FILE"
MIN_KEY_BYTES = 32


def intent_key(path: Path | None = None) -> bytes:
    """The key from `path` (else the file SERINUS_INTENT_KEY_FILE names), else a fresh one."""
    chosen = path or (Path(p) if (p := os.environ.get(INTENT_KEY_ENV)) else None)
    if chosen is None:
        return secrets.token_bytes(MIN_KEY_BYTES)
    try:
        key = chosen.read_bytes().strip()
    except OSError as exc:
        raise InvalidInput([f"{INTENT_KEY_ENV}: cannot read {chosen}: {exc.strerror}"]) from None
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInput(
            [f"{INTENT_KEY_ENV}: {chosen} holds {len(key)} bytes; use at least {MIN_KEY_BYTES}"]
        )
    return key
