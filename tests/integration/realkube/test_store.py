"""The Kubernetes store on the real API server: statuses the engine writes are accepted as is.

The in-process stand-in accepted an empty `status.message`; this server refused it
("must be of type string"), so every save of a status without a message failed. Empty strings
are now left out, as Kubernetes' own types do (`omitempty`).

A save writes one Kubernetes Event, whatever number of serinus events it holds: named after the
most severe, listing them all (the status's history keeps each one).
"""

from __future__ import annotations

import asyncio

import pytest
from real_kube import RealKube
from tests.integration.realkube.pipeline import rollout_document

from serinus.adapters.kube.resources import EVENTS, ObjectRef
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.core.events import Event, EventType
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


def test_a_save_writes_one_kubernetes_event_named_after_its_most_severe(
    real_kube: RealKube,
) -> None:
    namespace = real_kube.new_namespace("store-events")
    document = rollout_document("deployment", "istio-host", "1.0.0", namespace)
    name = document["metadata"]["name"]
    saves = [
        [
            Event(type=EventType.STEP_STARTED, message="step 1 started", at=1000.0),
            Event(type=EventType.WEIGHTS_CHANGED, message="green 10%", at=1001.0),
            Event(type=EventType.ABORTED, message="aborted by alice", at=1002.0),
            Event(type=EventType.STEP_COMPLETED, message="step 1 completed", at=1003.0),
        ],
        [],
        [Event(type=EventType.COMPLETED, message="1.0.0 is live", at=1010.0)],
    ]

    async def scenario() -> tuple[list[dict[str, object]], list[Event]]:
        async with real_kube.client() as client:
            await client.create(ROLLOUTS, namespace, document)
            store = KubernetesStateStore(client, namespace)
            for index, events in enumerate(saves):
                status = RolloutStatus(phase=Phase.PROGRESSING, revision=index, phase_since=1.0)
                await store.save(name, status, events, [])
            listed = await client.list(EVENTS, namespace)
            return listed.items, await store.history(name)

    written, history = asyncio.run(scenario())
    found = sorted(written, key=lambda e: str(e["lastTimestamp"]))
    assert [(e["reason"], e["type"], e["message"]) for e in found] == [
        ("Aborted", "Warning", "step 1 started; green 10%; aborted by alice; step 1 completed"),
        ("Completed", "Normal", "1.0.0 is live"),
    ]
    assert (found[0]["firstTimestamp"], found[0]["lastTimestamp"]) == (
        "1970-01-01T00:16:40Z",
        "1970-01-01T00:16:43Z",
    )
    assert [e.message for e in history] == [e.message for events in saves for e in events]
