"""The Kubernetes store passes the StateStore contract against the API server stand-in, plus
what only it has: the Rollout's status for kubectl, conditions, Kubernetes Events, the status
validated by the generated CRD, and a promote from a laptop racing the operator's save.

The stand-in serves the generated Rollout CRD with its schema, so every status the store writes
is also checked against deploy/crds (as the real API server would, including pruning)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_stand_in.kubeapi import ApiRequest, KubeApiStandIn
from tests.contract.stores.contract import (
    ClosableStore,
    StateStoreContract,
    StoreHandles,
    make_event,
    make_intent,
    make_rollout,
    make_status,
    outcome,
)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.crd import rollout_crd
from serinus.adapters.kube.resources import EVENTS, ObjectRef
from serinus.adapters.kube.schemas import SchemaRegistry
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.core.errors import InvalidInput
from serinus.core.events import EventType
from serinus.core.status import Phase


class KubeHandles:
    """Each handle is a client of its own on the one API server, as two machines would be."""

    def __init__(self, api: KubeApiStandIn) -> None:
        self.api = api

    async def open(self) -> ClosableStore:
        assert self.api.kubeconfig_path is not None
        client = KubeClient.from_kubeconfig(self.api.kubeconfig_path)
        return KubernetesStateStore(client, "default", owns_client=True)


@pytest.fixture
def rollout_api(tmp_path: Path) -> Iterator[KubeApiStandIn]:
    """The stand-in in a thread of its own (the hypothesis test runs its own event loops)."""
    api = KubeApiStandIn(schemas=SchemaRegistry([rollout_crd()]))
    with api.serving_in_thread():
        api.kubeconfig_path = api.write_kubeconfig(tmp_path / "kubeconfig")
        yield api


class TestKubernetesStore(StateStoreContract):
    concurrent_writers = 10

    @pytest.fixture
    def store_handles(self, rollout_api: KubeApiStandIn) -> StoreHandles:
        return KubeHandles(rollout_api)


@pytest.fixture
async def store(rollout_api: KubeApiStandIn) -> ClosableStore:
    return await KubeHandles(rollout_api).open()


async def test_status_shows_phase_step_weight_and_conditions(
    rollout_api: KubeApiStandIn, store: ClosableStore
) -> None:
    await store.submit(make_rollout())
    await store.save("shop", make_status(phase=Phase.PAUSED), [make_event(1)], [])
    stored = rollout_api.stored(ROLLOUTS, "default", "shop")
    assert stored is not None
    status = stored["status"]
    assert (status["phase"], status["step"], status["stepCount"]) == ("Paused", 2, 6)
    assert (status["weight"], status["weights"]) == (10, {"blue": 90, "green": 10})
    assert (status["stableVersion"], status["canaryVersion"]) == ("v1", "v2")
    kinds = {c["type"]: c["status"] for c in status["conditions"]}
    assert kinds == {
        "Progressing": "True",
        "Paused": "True",
        "Healthy": "True",
        "Completed": "False",
        "Aborted": "False",
    }
    assert stored["spec"]["version"] == "v1"
    await store.close()


async def test_a_condition_keeps_its_transition_time_until_it_changes(
    rollout_api: KubeApiStandIn, store: ClosableStore
) -> None:
    await store.submit(make_rollout())
    first = make_status(phase=Phase.PROGRESSING).model_copy(update={"phase_since": 1_000.0})
    later = first.model_copy(update={"phase_since": 2_000.0, "revision": 2})
    aborted = first.model_copy(update={"phase": Phase.ABORTED, "phase_since": 3_000.0})
    times = []
    for status in (first, later, aborted):
        await store.save("shop", status, [], [])
        stored = rollout_api.stored(ROLLOUTS, "default", "shop")
        assert stored is not None
        times.append({c["type"]: c["lastTransitionTime"] for c in stored["status"]["conditions"]})
    assert times[1]["Progressing"] == times[0]["Progressing"] == "1970-01-01T00:16:40Z"
    assert times[2]["Progressing"] == times[2]["Aborted"] == "1970-01-01T00:50:00Z"
    assert times[2]["Paused"] == times[0]["Paused"]  # still False
    await store.close()


async def test_a_save_s_events_become_one_kubernetes_event_named_after_the_most_severe(
    rollout_api: KubeApiStandIn, store: ClosableStore
) -> None:
    await store.submit(make_rollout())
    await store.save("shop", make_status(), [make_event(1), make_event(2, EventType.ABORTED)], [])
    async with KubeClient.from_kubeconfig(rollout_api.kubeconfig_path) as client:
        listed = await client.list(EVENTS, "default")
    found = sorted(listed.items, key=lambda e: e["message"])
    assert [(e["reason"], e["type"], e["message"]) for e in found] == [
        ("Aborted", "Warning", "event 1; event 2"),
    ]
    assert {e["involvedObject"]["kind"] for e in found} == {"Rollout"}
    assert {e["involvedObject"]["name"] for e in found} == {"shop"}
    await store.close()


async def test_events_forbidden_by_rbac_do_not_undo_the_save(
    rollout_api: KubeApiStandIn, store: ClosableStore, caplog: pytest.LogCaptureFixture
) -> None:
    await store.submit(make_rollout())
    rollout_api.forbid(verb="create", plural="events")
    await store.save("shop", make_status(3), [make_event(1)], [])
    assert await store.load("shop") == make_status(3)
    assert await store.history("shop") == [make_event(1)]
    assert "not written" in caplog.text
    await store.close()


async def test_a_promote_between_the_operators_read_and_write_survives(
    rollout_api: KubeApiStandIn, store: ClosableStore
) -> None:
    """The laptop's promote lands after the operator read status and before it wrote: the
    operator's write conflicts (409), re-reads and keeps the promote pending."""
    await store.submit(make_rollout())
    laptop = await KubeHandles(rollout_api).open()
    early = await laptop.record_intent("shop", make_intent(comment="early"))
    late = early.model_copy(update={"id": early.id + 1000, "comment": "from the laptop"})

    def add_the_laptops_intent(status_owner: dict[str, Any]) -> None:
        status_owner["status"]["intents"].append(
            {**late.model_dump(mode="json"), "consumed": False}
        )

    def between_read_and_write(request: ApiRequest) -> None:
        if request.subresource == "status" and request.verb == "update" and not raced:
            raced.append(request)
            rollout_api.edit(ROLLOUTS, "default", "shop", add_the_laptops_intent)

    raced: list[ApiRequest] = []
    remove = rollout_api.add_hook(between_read_and_write)
    try:
        await store.save("shop", make_status(1), [make_event(1)], [outcome(early, "promoted")])
    finally:
        remove()
    status_writes = [
        r for r in rollout_api.requests if r.subresource == "status" and r.verb == "update"
    ]
    assert len(raced) == 1
    assert len(status_writes) == 3  # the laptop's record, the operator's 409, its retry
    assert await store.pending_intents("shop") == [late]
    assert [i.outcome for i in await laptop.intents("shop")] == ["promoted", None]
    assert await store.load("shop") == make_status(1)
    await laptop.close()
    await store.close()


async def test_a_spec_change_keeps_status_and_intents(
    rollout_api: KubeApiStandIn, store: ClosableStore
) -> None:
    await store.submit(make_rollout())
    intent = await store.record_intent("shop", make_intent())
    await store.save("shop", make_status(4), [], [])
    await store.submit(make_rollout(version="v3"))
    stored = rollout_api.stored(ROLLOUTS, "default", "shop")
    assert stored is not None and stored["spec"]["version"] == "v3"
    assert await store.pending_intents("shop") == [intent]
    assert await store.load("shop") == make_status(4)
    await store.close()


async def test_a_rollout_of_another_namespace_is_refused(store: ClosableStore) -> None:
    other = make_rollout().model_copy(
        update={"metadata": make_rollout().metadata.model_copy(update={"namespace": "prod"})}
    )
    with pytest.raises(InvalidInput, match=r"metadata\.namespace"):
        await store.submit(other)
    assert await store.names() == []
    await store.close()


async def test_the_audit_keeps_pending_intents_and_caps_consumed_ones(
    rollout_api: KubeApiStandIn,
) -> None:
    from serinus.adapters.stores import rollout_resource

    records = [
        {**make_intent().model_dump(mode="json"), "id": i, "consumed": i % 2 == 0}
        for i in range(1, 501)
    ]
    capped = rollout_resource.capped_audit(records)
    assert len([r for r in capped if r["consumed"]]) == rollout_resource.AUDIT_CAP
    assert len([r for r in capped if not r["consumed"]]) == 250
    assert [r["id"] for r in capped] == sorted(r["id"] for r in capped)
    assert ObjectRef(ROLLOUTS, "default", "x").describe().startswith("rollouts.serinus.io")
