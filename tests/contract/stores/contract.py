"""The StateStore contract: one suite every store passes (SQLite, in-memory, Kubernetes, ...).

How to plug a store in: subclass `StateStoreContract` in a `test_<store>.py` module and give it
a `store_handles` fixture returning a `StoreHandles`, whose `open()` returns a NEW handle (with
an async `close()`) on the SAME backing state each time it is called: two connections to one
SQLite file, two clients of one API server, two fakes on one `MemoryState`. Every test starts
from an empty backing state, so the fixture is function-scoped (use `tmp_path`, a fresh
namespace, ...). Example:

    class TestMyStore(StateStoreContract):
        @pytest.fixture
        def store_handles(self, tmp_path: Path) -> StoreHandles:
            return MyHandles(tmp_path / "state.db")

The suite only uses the `StateStore` port, `close()` and the models; it never looks inside the
storage. What it proves:
- specs round-trip and replace each other without touching the status; names are sorted;
- `save` writes status, events and consumed intents (with their outcome) all or nothing;
- intents: ids increase, pending ones in id order, the audit newest last and limited;
- unknown rollouts: `load`/`get_spec` give None, writes raise NotFound naming the rollout;
- handles on the same state see each other's writes and concurrent writers lose nothing;
- statuses of every phase, header routes and teardowns (and arbitrary ones) round-trip exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Protocol

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serinus.core.errors import Conflict, InvalidInput, NotFound, StoreError
from serinus.core.events import Event, EventType
from serinus.core.intents import Intent, IntentKind
from serinus.core.ports import StateStore
from serinus.core.spec import Rollout
from serinus.core.status import (
    COLORS,
    HeaderRouteState,
    Phase,
    Revision,
    RolloutStatus,
    ScheduledTeardown,
)


class ClosableStore(StateStore, Protocol):
    async def close(self) -> None: ...


class StoreHandles(Protocol):
    async def open(self) -> ClosableStore:
        """A new handle on the backing state every store of this test shares."""


# --- sample data -------------------------------------------------------------------------------


def make_rollout(name: str = "shop", version: str = "v1") -> Rollout:
    """A Rollout using every step kind, so the whole spec shape goes through the store."""
    return Rollout.model_validate(
        {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name, "labels": {"team": "payments"}},
            "spec": {
                "version": version,
                "workload": {
                    "process": {
                        "command": ["python", "-m", "serinus.demo.app", "--port", "{port}"],
                        "replicas": 3,
                        "env": {"VERSION": "{version}"},
                        "warmup": {"requests": 5},
                    }
                },
                "strategy": {
                    "blueGreenCanary": {
                        "steps": [
                            {
                                "setHeaderRoute": {
                                    "name": "testers",
                                    "match": [
                                        {"headerName": "X-Tester", "headerValue": {"exact": "yes"}}
                                    ],
                                }
                            },
                            {"setWeight": 10},
                            {"pause": {"duration": "30s"}},
                            {
                                "judgement": {
                                    "instructions": "Check the dashboards",
                                    "inputs": [{"name": "ticket", "required": True}],
                                    "timeout": "1h",
                                    "onTimeout": "abort",
                                }
                            },
                            {"pause": {}},
                            {"setWeight": 100},
                        ],
                        "scaleDownDelay": "2m",
                    }
                },
                "trafficRouting": {"haproxy": {"port": 18080}},
            },
        }
    )


def make_status(revision: int = 1, phase: Phase = Phase.PROGRESSING) -> RolloutStatus:
    return RolloutStatus(
        phase=phase,
        message=f"revision {revision}",
        stable=Revision(version="v1", color="blue"),
        canary=Revision(version="v2", color="green"),
        step_index=2,
        step_started_at=1_700_000_000.25,
        phase_since=1_700_000_000.5,
        rollout_started_at=1_699_999_990.125,
        weights={"blue": 90, "green": 10},
        header_routes=[
            HeaderRouteState(
                name="testers",
                matches=[{"headerName": "X-Tester", "headerValue": {"exact": "yes"}}],
                color="green",
            )
        ],
        teardowns=[ScheduledTeardown(color="blue", version="v0", due=1_700_000_100.0)],
        previous_version="v0",
        revision=revision,
    )


def make_event(index: int, kind: EventType = EventType.WEIGHTS_CHANGED) -> Event:
    return Event(
        type=kind,
        message=f"event {index}",
        at=1_700_000_000.0 + index,
        data={"index": index, "weights": {"blue": 90, "green": 10}, "tags": ["a", "b"]},
    )


def make_intent(kind: IntentKind = IntentKind.PROMOTE, comment: str = "") -> Intent:
    return Intent(kind=kind, actor="alice", source="cli", at=1_700_000_000.0, comment=comment)


def outcome(intent: Intent, text: str = "done") -> Intent:
    return intent.model_copy(update={"outcome": text})


# --- hypothesis strategies ---------------------------------------------------------------------

_finite = st.floats(allow_nan=False, allow_infinity=False)
_texts = st.text(max_size=12)
# JSON values a store of any kind keeps exactly (integers within what float64 readers keep).
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _finite | _texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_texts, inner, max_size=3),
    max_leaves=8,
)
_colors = st.sampled_from(COLORS)
_revisions = st.builds(Revision, version=_texts, color=_colors)

statuses = st.builds(
    RolloutStatus,
    phase=st.sampled_from(Phase),
    message=st.text(max_size=40),
    stable=st.none() | _revisions,
    canary=st.none() | _revisions,
    step_index=st.integers(0, 10_000),
    step_started_at=st.none() | _finite,
    phase_since=_finite,
    rollout_started_at=st.none() | _finite,
    weights=st.dictionaries(_colors, st.integers(0, 100)),
    header_routes=st.lists(
        st.builds(
            HeaderRouteState,
            name=_texts,
            matches=st.lists(st.dictionaries(_texts, _json, max_size=3), max_size=3),
            color=_colors,
        ),
        max_size=3,
    ),
    paused_by_user=st.booleans(),
    teardowns=st.lists(
        st.builds(ScheduledTeardown, color=_colors, version=_texts, due=_finite), max_size=3
    ),
    previous_version=st.none() | _texts,
    revision=st.integers(0, 2**31),
)

events = st.builds(
    Event,
    type=st.sampled_from(EventType),
    message=st.text(max_size=40),
    at=_finite,
    data=st.dictionaries(_texts, _json, max_size=4),
)


# --- the suite ---------------------------------------------------------------------------------


class StateStoreContract:
    """Subclass and provide the `store_handles` fixture (see the module docstring)."""

    # Rounds of concurrent writes in the concurrency test; a slow store may lower it.
    concurrent_writers: ClassVar[int] = 20

    @pytest.fixture
    def store_handles(self) -> StoreHandles:
        raise NotImplementedError("a StateStoreContract subclass must define store_handles")

    @pytest.fixture
    async def store(self, store_handles: StoreHandles) -> AsyncIterator[ClosableStore]:
        handle = await store_handles.open()
        try:
            yield handle
        finally:
            await handle.close()

    @pytest.fixture
    async def peer(self, store_handles: StoreHandles) -> AsyncIterator[ClosableStore]:
        """A second handle on the same state (another process, another client)."""
        handle = await store_handles.open()
        try:
            yield handle
        finally:
            await handle.close()

    # --- specs ---------------------------------------------------------------------------------

    async def test_a_new_store_is_empty(self, store: ClosableStore) -> None:
        assert await store.names() == []
        assert await store.get_spec("shop") is None
        assert await store.load("shop") is None
        assert await store.history("shop") == []
        assert await store.intents("shop") == []
        assert await store.pending_intents("shop") == []

    async def test_submitted_spec_reads_back_equal(self, store: ClosableStore) -> None:
        rollout = make_rollout()
        await store.submit(rollout)
        assert await store.get_spec("shop") == rollout
        assert await store.load("shop") is None  # submitted, not started

    async def test_submit_replaces_the_spec_and_keeps_the_status(
        self, store: ClosableStore
    ) -> None:
        await store.submit(make_rollout(version="v1"))
        await store.save("shop", make_status(revision=7), [make_event(1)], [])
        await store.submit(make_rollout(version="v2"))
        assert await store.get_spec("shop") == make_rollout(version="v2")
        assert await store.load("shop") == make_status(revision=7)
        assert await store.history("shop") == [make_event(1)]
        assert await store.names() == ["shop"]

    async def test_names_lists_submitted_rollouts_sorted(self, store: ClosableStore) -> None:
        for name in ["web", "api", "shop", "a-b", "api2"]:
            await store.submit(make_rollout(name))
        assert await store.names() == ["a-b", "api", "api2", "shop", "web"]

    # --- status and events ---------------------------------------------------------------------

    async def test_save_then_load_returns_the_equal_status(self, store: ClosableStore) -> None:
        await store.submit(make_rollout())
        await store.save("shop", make_status(revision=1), [], [])
        assert await store.load("shop") == make_status(revision=1)
        await store.save("shop", make_status(revision=2, phase=Phase.PAUSED), [], [])
        assert await store.load("shop") == make_status(revision=2, phase=Phase.PAUSED)

    async def test_status_is_stored_by_value(self, store: ClosableStore) -> None:
        """Changing an object after saving it, or one returned by load, changes nothing stored."""
        await store.submit(make_rollout())
        status = make_status()
        await store.save("shop", status, [], [])
        status.weights["green"] = 55
        loaded = await store.load("shop")
        assert loaded is not None
        assert loaded.weights == {"blue": 90, "green": 10}
        loaded.weights["green"] = 66
        assert await store.load("shop") == make_status()

    async def test_rollouts_are_isolated(self, store: ClosableStore) -> None:
        await store.submit(make_rollout("shop"))
        await store.submit(make_rollout("web"))
        await store.save("shop", make_status(revision=3), [make_event(1)], [])
        promote = await store.record_intent("web", make_intent())
        assert await store.load("web") is None
        assert await store.history("web") == []
        assert await store.pending_intents("shop") == []
        assert await store.pending_intents("web") == [promote]

    async def test_events_append_oldest_first_and_history_keeps_the_newest(
        self, store: ClosableStore
    ) -> None:
        await store.submit(make_rollout())
        await store.save("shop", make_status(1), [make_event(0), make_event(1)], [])
        await store.save("shop", make_status(2), [], [])
        await store.save("shop", make_status(3), [make_event(2), make_event(3), make_event(4)], [])
        everything = [make_event(i) for i in range(5)]
        assert await store.history("shop") == everything
        assert await store.history("shop", limit=2) == everything[-2:]
        assert await store.history("shop", limit=5) == everything
        assert await store.history("shop", limit=50) == everything
        assert await store.history("shop", limit=0) == []

    async def test_default_history_limit_is_200(self, store: ClosableStore) -> None:
        await store.submit(make_rollout())
        await store.save("shop", make_status(), [make_event(i) for i in range(205)], [])
        history = await store.history("shop")
        assert [event.data["index"] for event in history] == list(range(5, 205))

    async def test_negative_limits_are_refused(self, store: ClosableStore) -> None:
        with pytest.raises(InvalidInput, match="limit"):
            await store.history("shop", limit=-1)
        with pytest.raises(InvalidInput, match="limit"):
            await store.intents("shop", limit=-1)

    async def test_save_of_an_unknown_rollout_is_not_found_and_changes_nothing(
        self, store: ClosableStore
    ) -> None:
        with pytest.raises(NotFound, match="ghost"):
            await store.save("ghost", make_status(), [make_event(1)], [])
        assert await store.names() == []
        assert await store.load("ghost") is None
        assert await store.history("ghost") == []

    # --- intents -------------------------------------------------------------------------------

    async def test_record_intent_assigns_increasing_ids(self, store: ClosableStore) -> None:
        await store.submit(make_rollout())
        first = await store.record_intent("shop", make_intent(IntentKind.PAUSE))
        second = await store.record_intent("shop", make_intent(IntentKind.RESUME))
        assert 0 < first.id < second.id
        assert first == make_intent(IntentKind.PAUSE).model_copy(update={"id": first.id})
        assert second.kind is IntentKind.RESUME

    async def test_record_intent_ignores_a_caller_supplied_id(self, store: ClosableStore) -> None:
        await store.submit(make_rollout())
        first = await store.record_intent("shop", make_intent())
        forged = await store.record_intent("shop", make_intent().model_copy(update={"id": 1}))
        assert forged.id > first.id
        assert [i.id for i in await store.pending_intents("shop")] == [first.id, forged.id]

    async def test_judge_intent_round_trips_with_inputs(self, store: ClosableStore) -> None:
        await store.submit(make_rollout())
        judge = Intent(
            kind=IntentKind.JUDGE,
            actor="bob",
            source="api",
            at=1_700_000_001.5,
            approve=False,
            inputs={"ticket": "OPS-42", "note": "ünïcödé ✓"},
            comment="latency too high",
        )
        recorded = await store.record_intent("shop", judge)
        assert recorded == judge.model_copy(update={"id": recorded.id})
        assert await store.pending_intents("shop") == [recorded]

    async def test_record_intent_on_an_unknown_rollout_is_not_found(
        self, store: ClosableStore
    ) -> None:
        with pytest.raises(NotFound, match="ghost"):
            await store.record_intent("ghost", make_intent())
        assert await store.names() == []
        assert await store.intents("ghost") == []

    async def test_pending_intents_in_id_order_until_consumed(self, store: ClosableStore) -> None:
        await store.submit(make_rollout())
        kinds = [IntentKind.PAUSE, IntentKind.RESUME, IntentKind.PROMOTE, IntentKind.ABORT]
        recorded = [await store.record_intent("shop", make_intent(kind)) for kind in kinds]
        assert await store.pending_intents("shop") == recorded

        await store.save(
            "shop",
            make_status(2),
            [make_event(1)],
            [outcome(recorded[0], "paused"), outcome(recorded[2], "refused: paused")],
        )
        assert await store.pending_intents("shop") == [recorded[1], recorded[3]]
        assert await store.intents("shop") == [
            outcome(recorded[0], "paused"),
            recorded[1],
            outcome(recorded[2], "refused: paused"),
            recorded[3],
        ]

    async def test_intents_audit_is_newest_last_and_limited(self, store: ClosableStore) -> None:
        await store.submit(make_rollout())
        recorded = [
            await store.record_intent("shop", make_intent(comment=f"#{i}")) for i in range(6)
        ]
        await store.save(
            "shop", make_status(), [], [outcome(r, f"done {r.comment}") for r in recorded[:4]]
        )
        audit = [outcome(r, f"done {r.comment}") for r in recorded[:4]] + recorded[4:]
        assert await store.intents("shop") == audit
        assert await store.intents("shop", limit=3) == audit[-3:]
        assert await store.intents("shop", limit=0) == []
        assert await store.pending_intents("shop") == recorded[4:]

    async def test_default_intents_limit_is_100(self, store: ClosableStore) -> None:
        await store.submit(make_rollout())
        for i in range(103):
            await store.record_intent("shop", make_intent(comment=str(i)))
        audit = await store.intents("shop")
        assert [intent.comment for intent in audit] == [str(i) for i in range(3, 103)]

    # --- save is all or nothing ----------------------------------------------------------------

    async def _started(self, store: ClosableStore) -> list[Intent]:
        await store.submit(make_rollout())
        await store.save("shop", make_status(1), [make_event(0)], [])
        return [await store.record_intent("shop", make_intent(comment=str(i))) for i in range(2)]

    async def _assert_unchanged(self, store: ClosableStore, pending: list[Intent]) -> None:
        assert await store.load("shop") == make_status(1)
        assert await store.history("shop") == [make_event(0)]
        assert await store.pending_intents("shop") == pending
        assert await store.intents("shop") == pending

    async def test_consuming_an_unknown_intent_fails_and_saves_nothing(
        self, store: ClosableStore
    ) -> None:
        pending = await self._started(store)
        ghost = make_intent().model_copy(update={"id": pending[-1].id + 1000, "outcome": "x"})
        with pytest.raises(NotFound, match=str(ghost.id)):
            await store.save("shop", make_status(2), [make_event(1)], [outcome(pending[0]), ghost])
        await self._assert_unchanged(store, pending)

    async def test_consuming_another_rollouts_intent_fails_and_saves_nothing(
        self, store: ClosableStore
    ) -> None:
        pending = await self._started(store)
        await store.submit(make_rollout("web"))
        foreign = await store.record_intent("web", make_intent())
        with pytest.raises(NotFound):
            await store.save("shop", make_status(2), [make_event(1)], [outcome(foreign)])
        await self._assert_unchanged(store, pending)
        assert await store.pending_intents("web") == [foreign]

    async def test_consuming_an_intent_twice_is_a_conflict(self, store: ClosableStore) -> None:
        pending = await self._started(store)
        await store.save("shop", make_status(2), [make_event(1)], [outcome(pending[0])])
        with pytest.raises(Conflict, match=str(pending[0].id)):
            await store.save(
                "shop", make_status(3), [make_event(2)], [outcome(pending[1]), outcome(pending[0])]
            )
        assert await store.load("shop") == make_status(2)
        assert await store.history("shop") == [make_event(0), make_event(1)]
        assert await store.pending_intents("shop") == [pending[1]]

    async def test_the_same_intent_twice_in_one_save_is_a_conflict(
        self, store: ClosableStore
    ) -> None:
        pending = await self._started(store)
        with pytest.raises(Conflict):
            await store.save(
                "shop", make_status(2), [], [outcome(pending[0]), outcome(pending[0], "again")]
            )
        await self._assert_unchanged(store, pending)

    async def test_consumed_intents_need_an_id_and_an_outcome(self, store: ClosableStore) -> None:
        pending = await self._started(store)
        with pytest.raises(InvalidInput) as refused:
            await store.save(
                "shop", make_status(2), [make_event(1)], [pending[0], outcome(make_intent())]
            )
        assert "consumed[0].outcome" in str(refused.value)
        assert "consumed[1].id" in str(refused.value)
        await self._assert_unchanged(store, pending)

    # --- delete --------------------------------------------------------------------------------

    async def test_delete_removes_everything_of_that_rollout(self, store: ClosableStore) -> None:
        await store.submit(make_rollout("shop"))
        await store.submit(make_rollout("web"))
        for name in ("shop", "web"):
            intent = await store.record_intent(name, make_intent())
            await store.save(name, make_status(), [make_event(1)], [outcome(intent)])
            await store.record_intent(name, make_intent(IntentKind.ABORT))

        await store.delete("shop")

        assert await store.names() == ["web"]
        assert await store.get_spec("shop") is None
        assert await store.load("shop") is None
        assert await store.history("shop") == []
        assert await store.intents("shop") == []
        assert await store.pending_intents("shop") == []
        with pytest.raises(NotFound, match="shop"):
            await store.record_intent("shop", make_intent())
        # the other rollout is untouched
        assert await store.load("web") == make_status()
        assert len(await store.intents("web")) == 2

    async def test_a_deleted_rollout_submitted_again_starts_clean(
        self, store: ClosableStore
    ) -> None:
        await store.submit(make_rollout())
        await store.record_intent("shop", make_intent())
        await store.save("shop", make_status(), [make_event(1)], [])
        await store.delete("shop")
        await store.submit(make_rollout(version="v9"))
        assert await store.get_spec("shop") == make_rollout(version="v9")
        assert await store.load("shop") is None
        assert await store.history("shop") == []
        assert await store.pending_intents("shop") == []

    async def test_delete_of_an_unknown_rollout_is_not_found(self, store: ClosableStore) -> None:
        with pytest.raises(NotFound, match="ghost"):
            await store.delete("ghost")

    # --- several handles -----------------------------------------------------------------------

    async def test_handles_on_the_same_state_see_each_others_writes(
        self, store: ClosableStore, peer: ClosableStore
    ) -> None:
        await store.submit(make_rollout())
        assert await peer.get_spec("shop") == make_rollout()
        promote = await peer.record_intent("shop", make_intent())  # the second terminal
        assert await store.pending_intents("shop") == [promote]
        await store.save("shop", make_status(5), [make_event(1)], [outcome(promote, "promoted")])
        assert await peer.load("shop") == make_status(5)
        assert await peer.history("shop") == [make_event(1)]
        assert await peer.intents("shop") == [outcome(promote, "promoted")]
        assert await peer.pending_intents("shop") == []
        await peer.delete("shop")
        assert await store.names() == []

    async def test_concurrent_writers_lose_no_intent(
        self, store: ClosableStore, peer: ClosableStore
    ) -> None:
        """Two handles record intents while one of them keeps saving and consuming."""
        await store.submit(make_rollout())
        rounds = self.concurrent_writers

        async def record(handle: ClosableStore, who: str) -> list[Intent]:
            return [
                await handle.record_intent("shop", make_intent(comment=f"{who}{i}"))
                for i in range(rounds)
            ]

        async def drive() -> list[Intent]:
            consumed: list[Intent] = []
            for revision in range(rounds):
                pending = await store.pending_intents("shop")
                done = [outcome(intent) for intent in pending]
                await store.save("shop", make_status(revision), [make_event(revision)], done)
                consumed.extend(done)
                await asyncio.sleep(0)
            return consumed

        mine, theirs, consumed = await asyncio.gather(
            record(store, "a"), record(peer, "b"), drive()
        )
        recorded = mine + theirs
        assert len({intent.id for intent in recorded}) == 2 * rounds
        audit = await store.intents("shop", limit=10 * rounds)
        assert sorted(i.id for i in audit) == sorted(i.id for i in recorded)
        assert {i.comment for i in audit} == {i.comment for i in recorded}
        pending = await peer.pending_intents("shop")
        assert {i.id for i in pending} | {i.id for i in consumed} == {i.id for i in recorded}
        assert not {i.id for i in pending} & {i.id for i in consumed}
        assert len(await store.history("shop", limit=10 * rounds)) == rounds

    async def test_a_closed_handle_refuses_work(self, store_handles: StoreHandles) -> None:
        handle = await store_handles.open()
        await handle.submit(make_rollout())
        await handle.close()
        with pytest.raises(StoreError):
            await handle.load("shop")
        with pytest.raises(StoreError):
            await handle.submit(make_rollout())
        await handle.close()  # closing twice is harmless
        other = await store_handles.open()
        try:
            assert await other.get_spec("shop") == make_rollout()
        finally:
            await other.close()

    # --- exact round trips ---------------------------------------------------------------------

    @pytest.mark.parametrize("phase", list(Phase))
    async def test_every_phase_round_trips_with_header_routes_and_teardowns(
        self, store: ClosableStore, phase: Phase
    ) -> None:
        status = make_status(phase=phase).model_copy(
            update={
                "header_routes": [
                    HeaderRouteState(
                        name="testers",
                        matches=[
                            {"headerName": "X-Tester", "headerValue": {"exact": "yes"}},
                            {"headerName": "X-Canary", "headerValue": {"regex": "^(1|true)$"}},
                        ],
                        color="green",
                    ),
                    HeaderRouteState(
                        name="ops",
                        matches=[{"headerName": "X-Ops", "headerValue": {"prefix": "on"}}],
                        color="blue",
                    ),
                ],
                "teardowns": [
                    ScheduledTeardown(color="blue", version="v1", due=1_700_000_030.5),
                    ScheduledTeardown(color="green", version="v2", due=1_700_000_060.0),
                ],
                "paused_by_user": phase is Phase.PAUSED,
            }
        )
        await store.submit(make_rollout())
        await store.save("shop", status, [], [])
        loaded = await store.load("shop")
        assert loaded == status
        assert loaded is not None
        assert loaded.to_storage() == status.to_storage()

    # Both suppressions are safe here: every example opens its own handle and the test keeps
    # no state on `self`; one method run by several store subclasses is the point of the suite.
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(status=statuses, new_events=st.lists(events, max_size=4))
    def test_any_status_and_events_round_trip_exactly(
        self, store_handles: StoreHandles, status: RolloutStatus, new_events: list[Event]
    ) -> None:
        # Hypothesis cannot drive async tests; each example runs on its own event loop with its
        # own handle, so stores whose clients are bound to a loop work too.
        async def round_trip() -> tuple[RolloutStatus | None, list[Event], dict[str, Any]]:
            handle = await store_handles.open()
            try:
                await handle.submit(make_rollout())
                await handle.save("shop", status, new_events, [])
                loaded = await handle.load("shop")
                history = await handle.history("shop", limit=len(new_events))
                return loaded, history, status.to_storage()
            finally:
                await handle.close()

        loaded, history, stored = asyncio.run(round_trip())
        assert loaded == status
        assert loaded is not None and loaded.to_storage() == stored
        assert history == new_events
