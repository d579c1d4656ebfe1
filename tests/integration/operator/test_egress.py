"""The operator's outbound guard: its metric providers and every notification channel refuse
link-local and cloud-metadata addresses (after DNS resolution) unless `--egress-allow` admits
them; nothing is sent to a refused address."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest

from serinus.adapters.egress import EgressRefused
from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import SECRETS
from serinus.app.registry import AdapterContext, build_providers
from serinus.core.analysis.spec import PrometheusSource, WebSource
from serinus.core.events import Event, EventType
from serinus.core.notification_spec import Notifications
from serinus.core.spec import Rollout
from serinus.entrypoints.operator.drivers import Drivers, DriverSettings

pytestmark = pytest.mark.integration
METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


def rollout() -> Rollout:
    return Rollout.model_validate(
        {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "version": "v2",
                "workload": {
                    "deployment": {
                        "replicas": 1,
                        "selector": {"app": "web"},
                        "template": {"spec": {"containers": [{"name": "w", "image": "w:2"}]}},
                    }
                },
                "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
                "trafficRouting": {"istio": {"virtualService": {"name": "web"}}},
            },
        }
    )


def providers(drivers: Drivers, kube: KubeClient) -> Any:
    context = AdapterContext(
        rollout=rollout(),
        state_dir=Path(),
        kube=kube,
        allow_commands=False,
        secrets=drivers.secrets,
        egress=drivers.egress,
    )
    return build_providers(context)


async def test_providers_refuse_metadata_and_link_local_addresses(kube_client: KubeClient) -> None:
    drivers = Drivers(kube_client, DriverSettings(state_dir=Path()))
    try:
        built = providers(drivers, kube_client)
        with pytest.raises(EgressRefused, match="metadata"):
            await built["web"].measure(WebSource(url=METADATA))
        with pytest.raises(EgressRefused, match="link-local"):
            await built["prometheus"].measure(
                PrometheusSource(address="http://169.254.10.5:9090", query="up")
            )
        with pytest.raises(EgressRefused, match="metadata host"):
            await built["web"].measure(WebSource(url="http://metadata.google.internal/x"))
    finally:
        await drivers.close()


async def test_the_allowlist_admits_a_network_and_nothing_more(kube_client: KubeClient) -> None:
    settings = DriverSettings(state_dir=Path(), egress_allow=("169.254.10.0/24",))
    drivers = Drivers(kube_client, settings)
    try:
        assert await drivers.egress.checked_address("169.254.10.5", 9090) == "169.254.10.5"
        with pytest.raises(EgressRefused):
            await drivers.egress.checked_address("169.254.169.254", 80)
    finally:
        await drivers.close()


async def test_notifications_to_a_metadata_address_are_refused_and_recorded(
    kube_client: KubeClient,
) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "hooks"},
        "data": {"url": base64.b64encode(METADATA.encode()).decode()},
    }
    await kube_client.create(SECRETS, "shop", secret)
    notifications = Notifications.model_validate(
        {
            "channels": [
                {
                    "name": "team",
                    "slack": {"webhookUrlFrom": {"secretKeyRef": {"name": "hooks", "key": "url"}}},
                }
            ],
            "subscriptions": [{"channel": "team", "events": ["*"]}],
        }
    )
    drivers = Drivers(kube_client, DriverSettings(state_dir=Path()))
    try:
        event = Event(type=EventType.FAILED, message="analysis failed", at=1.0)
        drivers.dispatcher.publish("web", [event], notifications, namespace="shop")
        for _ in range(200):
            if drivers.dispatcher.failures():
                break
            await asyncio.sleep(0.02)
        [failure] = drivers.dispatcher.failures()
        assert "refused to connect to 169.254.169.254: a cloud metadata address" in failure.error
        assert failure.attempts == 1, "a refused address is not retried"
        assert "security-credentials" not in failure.error  # the secret URL is not shown
    finally:
        await drivers.close()
