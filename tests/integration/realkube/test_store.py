"""The Kubernetes store on the real API server: statuses the engine writes are accepted as is.

The in-process stand-in accepted an empty `status.message`; this server refused it
("must be of type string"), so every save of a status without a message failed. Empty strings
are now left out, as Kubernetes' own types do (`omitempty`).
"""

from __future__ import annotations

import asyncio

import pytest
from real_kube import RealKube
from tests.integration.realkube.pipeline import rollout_document

from serinus.adapters.kube.resources import ObjectRef
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.core.status import Phase, Revision, RolloutStatus
from serinus.entrypoints.operator.reporting import with_error, without_error

pytestmark = pytest.mark.integration


def test_a_status_without_message_round_trips(real_kube: RealKube) -> None:
    namespace = real_kube.new_namespace("store")
    document = rollout_document("deployment", "istio-host", "1.0.0", namespace)
    name = document["metadata"]["name"]
    statuses = [
        RolloutStatus(phase=Phase.PROVISIONING, message="", phase_since=1000.0),
        RolloutStatus(
            phase=Phase.COMPLETED,
            message="1.0.0 is live",
            stable=Revision(version="1.0.0", color="blue"),
            weights={"blue": 100, "green": 0},
            phase_since=1001.0,
        ),
        RolloutStatus(phase=Phase.PROGRESSING, message="", phase_since=1002.0),
    ]

    async def scenario() -> list[RolloutStatus | None]:
        async with real_kube.client() as client:
            await client.create(ROLLOUTS, namespace, document)
            store = KubernetesStateStore(client, namespace)
            loaded = []
            for status in statuses:
                await store.save(name, status, [], [])
                loaded.append(await store.load(name))
            ref = ObjectRef(ROLLOUTS, namespace, name)
            current = await client.get_or_none(ref)
            assert current is not None
            errored = with_error(current, "InvalidSpec", "spec.version: bad")
            assert errored is not None
            written = await client.replace(ref, errored, subresource="status")
            cleared = without_error(written)
            assert cleared is not None
            await client.replace(ref, cleared, subresource="status")
            return loaded

    assert asyncio.run(scenario()) == statuses
