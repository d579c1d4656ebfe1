"""Operator secrets from Kubernetes Secrets: resolved when needed, never in messages, and never
from the operator's own environment."""

from __future__ import annotations

import base64

import pytest

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import SECRETS
from serinus.adapters.kube.secrets import KubeSecretResolver
from serinus.core.errors import InvalidInput, NotFound, SerinusError
from serinus.core.notification_spec import SecretRef

WEBHOOK = "https://hooks.slack.example/services/T000/B000/very-secret"


def secret(data: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "slack"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


async def test_a_secret_key_ref_reads_the_secret_in_the_rollouts_namespace(
    kube_client: KubeClient,
) -> None:
    await kube_client.create(SECRETS, "shop", secret({"url": WEBHOOK}))
    resolver = KubeSecretResolver(kube_client)
    ref = SecretRef.model_validate({"secretKeyRef": {"name": "slack", "key": "url"}})
    assert await resolver.resolve(ref, "shop") == WEBHOOK
    with pytest.raises(SerinusError):  # another namespace has no such Secret
        await resolver.resolve(ref, "other")


async def test_missing_keys_are_named_without_any_value(kube_client: KubeClient) -> None:
    await kube_client.create(SECRETS, "shop", secret({"url": WEBHOOK}))
    resolver = KubeSecretResolver(kube_client)
    missing = SecretRef.model_validate({"secretKeyRef": {"name": "slack", "key": "token"}})
    with pytest.raises(NotFound) as caught:
        await resolver.resolve(missing, "shop")
    assert "slack/token" in str(caught.value) and WEBHOOK not in str(caught.value)


async def test_the_operators_environment_is_never_read(
    kube_client: KubeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPERATOR_TOKEN", WEBHOOK)
    resolver = KubeSecretResolver(kube_client)
    with pytest.raises(InvalidInput, match=r"env OPERATOR_TOKEN.*secretKeyRef") as caught:
        await resolver.resolve(SecretRef(env="OPERATOR_TOKEN"), "shop")
    assert WEBHOOK not in str(caught.value)
