"""An in-memory StateStore: the fake for engine and operation tests, passing the same contract.

Records are kept as JSON text, exactly as a real store keeps them, so a value that would not
survive storage does not survive here either, and callers never share mutable objects with the
store. Several `MemoryStateStore` handles on one `MemoryState` see each other's writes, like two
processes on one SQLite file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from serinus.adapters.stores.arguments import check_consumed, check_limit
from serinus.core.errors import Conflict, NotFound, StoreError
from serinus.core.events import Event
from serinus.core.intents import Intent
from serinus.core.spec import Rollout
from serinus.core.status import RolloutStatus


@dataclass
class _StoredIntent:
    id: int
    body: str  # JSON of the intent without id and outcome
    consumed: bool = False
    outcome: str | None = None

    def to_intent(self) -> Intent:
        return Intent.model_validate(
            {**json.loads(self.body), "id": self.id, "outcome": self.outcome}
        )


@dataclass
class _StoredRollout:
    spec: str
    status: str | None = None
    events: list[str] = field(default_factory=list)
    intents: list[_StoredIntent] = field(default_factory=list)


@dataclass
class MemoryState:
    """The data every handle on it shares."""

    rollouts: dict[str, _StoredRollout] = field(default_factory=dict)
    last_intent_id: int = 0
    # Handles may live on different threads' event loops; every operation holds the lock.
    lock: threading.Lock = field(default_factory=threading.Lock)


class MemoryStateStore:
    def __init__(self, state: MemoryState | None = None) -> None:
        self.state = state if state is not None else MemoryState()
        self._closed = False

    def _data(self) -> MemoryState:
        if self._closed:
            raise StoreError("memory state store is closed")
        return self.state

    def _rollout(self, name: str) -> _StoredRollout:
        rollout = self.state.rollouts.get(name)
        if rollout is None:
            raise NotFound(f"rollout {name!r} not found")
        return rollout

    async def submit(self, rollout: Rollout) -> None:
        spec = json.dumps(rollout.model_dump(mode="json", by_alias=True, exclude_none=True))
        data = self._data()
        with data.lock:
            stored = data.rollouts.get(rollout.name)
            if stored is None:
                data.rollouts[rollout.name] = _StoredRollout(spec=spec)
            else:
                stored.spec = spec

    async def get_spec(self, name: str) -> Rollout | None:
        data = self._data()
        with data.lock:
            stored = data.rollouts.get(name)
            return None if stored is None else Rollout.model_validate(json.loads(stored.spec))

    async def load(self, name: str) -> RolloutStatus | None:
        data = self._data()
        with data.lock:
            stored = data.rollouts.get(name)
            if stored is None or stored.status is None:
                return None
            return RolloutStatus.from_storage(json.loads(stored.status))

    async def save(
        self,
        name: str,
        status: RolloutStatus,
        events: Sequence[Event],
        consumed: Sequence[Intent],
    ) -> None:
        check_consumed(consumed)
        status_json = json.dumps(status.to_storage())
        event_bodies = [json.dumps(event.model_dump(mode="json")) for event in events]
        data = self._data()
        with data.lock:
            try:
                stored = self._rollout(name)
            except NotFound:
                raise NotFound(
                    f"rollout {name!r} not found: submit it before saving status"
                ) from None
            # Check every intent before changing anything: the save is all or nothing.
            by_id = {intent.id: intent for intent in stored.intents}
            seen: set[int] = set()
            for intent in consumed:
                target = by_id.get(intent.id)
                if target is None:
                    raise NotFound(f"intent {intent.id} of rollout {name!r} not found")
                if target.consumed or intent.id in seen:
                    raise Conflict(f"intent {intent.id} of rollout {name!r} was already consumed")
                seen.add(intent.id)
            stored.status = status_json
            stored.events.extend(event_bodies)
            for intent in consumed:
                by_id[intent.id].consumed = True
                by_id[intent.id].outcome = intent.outcome

    async def names(self) -> list[str]:
        data = self._data()
        with data.lock:
            return sorted(data.rollouts)

    async def record_intent(self, name: str, intent: Intent) -> Intent:
        body = json.dumps(intent.model_dump(mode="json", exclude={"id", "outcome"}))
        data = self._data()
        with data.lock:
            stored = self._rollout(name)
            data.last_intent_id += 1
            stored.intents.append(
                _StoredIntent(id=data.last_intent_id, body=body, outcome=intent.outcome)
            )
            return stored.intents[-1].to_intent()

    async def pending_intents(self, name: str) -> list[Intent]:
        data = self._data()
        with data.lock:
            stored = data.rollouts.get(name)
            if stored is None:
                return []
            return [intent.to_intent() for intent in stored.intents if not intent.consumed]

    async def intents(self, name: str, limit: int = 100) -> list[Intent]:
        check_limit(limit, "intents request")
        data = self._data()
        with data.lock:
            stored = data.rollouts.get(name)
            if stored is None or limit == 0:
                return []
            return [intent.to_intent() for intent in stored.intents[-limit:]]

    async def history(self, name: str, limit: int = 200) -> list[Event]:
        check_limit(limit, "history request")
        data = self._data()
        with data.lock:
            stored = data.rollouts.get(name)
            if stored is None or limit == 0:
                return []
            return [Event.model_validate(json.loads(body)) for body in stored.events[-limit:]]

    async def delete(self, name: str) -> None:
        data = self._data()
        with data.lock:
            self._rollout(name)
            del data.rollouts[name]

    async def close(self) -> None:
        """Later calls on this handle raise StoreError; other handles on the state keep working."""
        self._closed = True

    async def __aenter__(self) -> MemoryStateStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
