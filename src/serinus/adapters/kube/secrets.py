"""Secret references resolved from Kubernetes Secrets (and the environment), for the operator."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import SECRETS, ObjectRef
from serinus.core.errors import NotFound
from serinus.core.notification_spec import SecretRef


class KubeSecretResolver:
    """`{secretKeyRef: {name, key}}` from a Secret in the rollout's namespace; `{env}` from the
    operator's environment. Values are read when needed, never cached, never logged."""

    def __init__(self, client: KubeClient, environ: Mapping[str, str] | None = None) -> None:
        self.client = client
        self._environ = os.environ if environ is None else environ

    async def resolve(self, ref: SecretRef, namespace: str) -> str:
        if ref.env is not None:
            value = self._environ.get(ref.env)
            if not value:
                raise NotFound(f"{ref.describe()} is not set in the operator's environment")
            return value
        key_ref = ref.secret_key_ref
        assert key_ref is not None  # SecretRef holds exactly one source
        secret = await self.client.get(ObjectRef(SECRETS, namespace, key_ref.name))
        encoded = (secret.get("data") or {}).get(key_ref.key)
        if encoded is None:
            raise NotFound(f"{ref.describe()}: Secret {namespace}/{key_ref.name} has no such key")
        try:
            return base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise NotFound(f"{ref.describe()}: the value is not base64-encoded UTF-8") from exc
