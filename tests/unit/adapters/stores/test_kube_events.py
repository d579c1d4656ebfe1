"""The EventRecorder: saves never wait for their Kubernetes Event; waiting events merge.

The queueing is tested with a client whose Event writes block until the test lets them go
(`GatedEvents`: only `create`, the one call the recorder makes); the store with a recorder is
tested against the API stand-in, which keeps what it was sent."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.contract.stores.contract import make_event, make_rollout, make_status
from tests.contract.stores.test_kubernetes import rollout_api  # noqa: F401 (a fixture)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import EVENTS, Resource
from serinus.adapters.stores.kube_events import MAX_EVENTS_PER_WRITE, EventRecorder
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.core.errors import KubeError


class GatedEvents:
    """Records each Event write; a write returns only once `release()` lets it."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.written: list[dict[str, Any]] = []
        self.in_flight: list[str] = []
        self.most_in_flight = 0
        self.overlapping_writes_of_one_rollout = 0
        self._gate = asyncio.Event()
        self._gate.set()

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    async def create(self, resource: Resource, namespace: str | None, body: Any) -> Any:
        assert resource == EVENTS
        name = body["involvedObject"]["name"]
        self.overlapping_writes_of_one_rollout += name in self.in_flight
        self.in_flight.append(name)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        try:
            await self._gate.wait()
            if self.fail:
                raise KubeError("events is forbidden: User cannot create resource events")
            self.written.append(body)
            return body
        finally:
            self.in_flight.remove(name)


def rollout(name: str, version: str = "5") -> dict[str, Any]:
    return {"metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": version}}


def recorder_of(client: GatedEvents, concurrency: int = 4) -> EventRecorder:
    return EventRecorder(cast(KubeClient, client), "serinus-operator", concurrency=concurrency)


async def until(check: Any, what: str) -> None:
    async with asyncio.timeout(5):
        while not check():
            await asyncio.sleep(0)  # let the recorder's tasks run; no wall-clock wait
    assert check(), what


async def test_a_save_gets_its_own_event_when_the_server_keeps_up() -> None:
    client = GatedEvents()
    recorder = recorder_of(client)
    recorder.record("team", rollout("web"), [make_event(1)])
    await recorder.flush()
    recorder.record("team", rollout("web", "6"), [make_event(2)])
    await recorder.flush()
    assert [e["message"] for e in client.written] == ["event 1", "event 2"]
    assert client.written[1]["involvedObject"]["resourceVersion"] == "6"
    assert (recorder.written, recorder.merged) == (2, 0)


async def test_record_returns_before_the_write_and_waiting_saves_become_one_event() -> None:
    client = GatedEvents()
    client.hold()
    recorder = recorder_of(client)
    recorder.record("team", rollout("web", "5"), [make_event(1)])
    await until(lambda: client.in_flight == ["web"], "the first Event is being written")
    recorder.record("team", rollout("web", "6"), [make_event(2)])  # returns: nothing awaited
    recorder.record("team", rollout("web", "7"), [make_event(3)])
    assert client.written == []
    client.release()
    await recorder.flush()
    assert [e["message"] for e in client.written] == ["event 1", "event 2; event 3"]
    assert client.written[1]["involvedObject"]["resourceVersion"] == "7"  # the latest save
    assert (recorder.written, recorder.merged) == (2, 1)
    assert client.overlapping_writes_of_one_rollout == 0


async def test_writes_are_bounded_and_one_rollout_is_written_one_at_a_time() -> None:
    client = GatedEvents()
    client.hold()
    recorder = recorder_of(client, concurrency=3)
    for index in range(10):
        recorder.record("team", rollout(f"r{index}"), [make_event(index)])
        recorder.record("team", rollout("r0"), [make_event(100 + index)])
    await until(lambda: len(client.in_flight) == 3, "three writes in flight")
    client.release()
    await recorder.flush()
    assert client.most_in_flight == 3
    assert client.overlapping_writes_of_one_rollout == 0
    assert {e["involvedObject"]["name"] for e in client.written} == {f"r{i}" for i in range(10)}
    r0 = [e["message"] for e in client.written if e["involvedObject"]["name"] == "r0"]
    expected = ["event 0", *(f"event {100 + i}" for i in range(10))]
    assert "; ".join(r0).split("; ") == expected  # every one, in order


async def test_a_long_wait_keeps_the_newest_events() -> None:
    client = GatedEvents()
    client.hold()
    recorder = recorder_of(client)
    recorder.record("team", rollout("web"), [make_event(0)])
    await until(lambda: client.in_flight == ["web"], "the first Event is being written")
    for index in range(1, 50):
        recorder.record("team", rollout("web"), [make_event(index)])
    client.release()
    await recorder.flush()
    merged = client.written[1]["message"].split("; ")
    assert len(merged) == MAX_EVENTS_PER_WRITE and merged[-1] == "event 49"


async def test_a_refused_event_is_logged_and_the_recorder_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = GatedEvents(fail=True)
    recorder = recorder_of(client)
    recorder.record("team", rollout("web"), [make_event(1)])
    await recorder.flush()
    assert "not written (status saved): events is forbidden" in caplog.text
    client.fail = False
    recorder.record("team", rollout("web"), [make_event(2)])
    await recorder.flush()
    assert [e["message"] for e in client.written] == ["event 2"]


async def test_close_drops_what_waits_and_writes_nothing_more() -> None:
    client = GatedEvents()
    client.hold()
    recorder = recorder_of(client)
    recorder.record("team", rollout("web"), [make_event(1)])
    recorder.record("team", rollout("api"), [make_event(2)])
    await until(lambda: len(client.in_flight) == 2, "both writes in flight")
    recorder.record("team", rollout("web"), [make_event(3)])
    await recorder.close()
    client.release()
    recorder.record("team", rollout("web"), [make_event(4)])
    await recorder.flush()
    assert client.written == [] and client.in_flight == []


async def test_the_store_hands_its_event_to_the_recorder(
    rollout_api: KubeApiStandIn,  # noqa: F811 (the fixture)
) -> None:
    assert rollout_api.kubeconfig_path is not None
    async with KubeClient.from_kubeconfig(rollout_api.kubeconfig_path) as client:
        recorder = EventRecorder(client, "serinus-operator")
        store = KubernetesStateStore(client, "default", events=recorder)
        await store.submit(make_rollout())
        await store.save("shop", make_status(), [make_event(1), make_event(2)], [])
        await recorder.flush()
        listed = (await client.list(EVENTS, "default")).items
        assert [(e["message"], e["involvedObject"]["name"]) for e in listed] == [
            ("event 1; event 2", "shop")
        ]
        assert recorder.written == 1
        await recorder.close()
