"""Secret references resolved from Kubernetes Secrets in the rollout's namespace, for the operator.

The operator's environment is not a secret store for Rollouts: whoever writes a Rollout could
otherwise have any variable of the operator's pod (its credentials included) sent to an address
of their choosing. `{env: NAME}` is therefore refused here (and by the cluster policy before).
"""

from __future__ import annotations

import base64
import binascii

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import SECRETS, ObjectRef
from serinus.core.errors import InvalidInput, NotFound
from serinus.core.notification_spec import SecretRef


class KubeSecretResolver:
    """`{secretKeyRef: {name, key}}` from a Secret in the rollout's namespace. Values are read
    when needed, never cached, never logged."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def resolve(self, ref: SecretRef, namespace: str) -> str:
        key_ref = ref.secret_key_ref
        if key_ref is None:
            raise InvalidInput(
                [
                    f"{ref.describe()}: the operator never reads its own environment for a "
                    "Rollout; use secretKeyRef: {name, key} (a Secret in the Rollout's namespace)"
                ],
                "secret reference",
            )
        secret = await self.client.get(ObjectRef(SECRETS, namespace, key_ref.name))
        encoded = (secret.get("data") or {}).get(key_ref.key)
        if encoded is None:
            raise NotFound(f"{ref.describe()}: Secret {namespace}/{key_ref.name} has no such key")
        try:
            return base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise NotFound(f"{ref.describe()}: the value is not base64-encoded UTF-8") from exc
