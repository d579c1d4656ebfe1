"""The Kubernetes Events of saves, written in the background and merged while they wait.

The Event a save writes is a courtesy copy (the Rollout's status history holds every event), yet
it was the third write on a pause end's path: the reconcile that set the next weight waited for
it before the Rollout could be reconciled again, and at a burst of pause ends it was one request
in five to the API server. Like client-go's event recorder, the operator now hands Events to a
recorder and goes on:

- at most `concurrency` Event writes are in flight, below the reconciles' own 32;
- the events of several saves of one Rollout that wait for a writer become one Event (named
  after the most severe, listing all; see rollout_resource.kube_event): when the server keeps
  up, every save still gets its own Event at once; when it does not, fewer writes go to it;
- one Rollout's Events are written one at a time, in order;
- a refused write (RBAC, a server error) is logged and dropped, as before; the save stands;
- `close` drops what is still waiting: after a lost Lease the replica writes nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import EVENTS
from serinus.adapters.stores import rollout_resource as documents
from serinus.core.errors import KubeError
from serinus.core.events import Event

log = logging.getLogger(__name__)

Key = tuple[str, str]  # namespace, Rollout name
# The events one Kubernetes Event lists at most (its message is cut at 1 kB anyway).
MAX_EVENTS_PER_WRITE = 20


@dataclass
class _Waiting:
    rollout: dict[str, Any]  # the Rollout's metadata as last saved (name, uid, resourceVersion)
    events: list[Event] = field(default_factory=list)


class EventRecorder:
    """Writes the Events of saves for many Rollouts through one client, never blocking a save."""

    def __init__(self, client: KubeClient, component: str, *, concurrency: int = 4) -> None:
        self.client = client
        self.component = component
        self.concurrency = concurrency
        self._waiting: dict[Key, _Waiting] = {}
        self._queue: list[Key] = []  # Rollouts with events waiting, oldest first
        self._writing: set[Key] = set()
        self._workers: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.written = 0  # Kubernetes Events created
        self.merged = 0  # saves whose events went out in another save's Event

    def record(self, namespace: str, rollout: Mapping[str, Any], events: Sequence[Event]) -> None:
        """Queue the events of one save of `rollout` (the object as written); returns at once."""
        if self._closed or not events:
            return
        metadata = rollout.get("metadata") or {}
        key = (namespace, str(metadata.get("name")))
        waiting = self._waiting.get(key)
        if waiting is None:
            waiting = self._waiting[key] = _Waiting({})
            if key not in self._writing:
                self._queue.append(key)
        else:
            self.merged += 1
        waiting.rollout = {"metadata": dict(metadata)}
        waiting.events = [*waiting.events, *events][-MAX_EVENTS_PER_WRITE:]
        self._idle.clear()
        if len(self._workers) < self.concurrency and self._queue:
            worker = asyncio.get_running_loop().create_task(self._work(), name="kube events")
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)

    async def flush(self) -> None:
        """Wait until every queued Event has been written (or refused)."""
        await self._idle.wait()

    async def close(self) -> None:
        """Stop writing; what still waits is dropped (it is in the Rollouts' status history)."""
        self._closed = True
        dropped = sum(len(w.events) for w in self._waiting.values())
        if dropped:
            log.info("closing: %d events not written as Kubernetes Events", dropped)
        self._waiting.clear()
        self._queue.clear()
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._idle.set()

    async def _work(self) -> None:
        while self._queue:
            key = self._queue.pop(0)
            self._writing.add(key)
            try:
                # New events of this Rollout that arrive meanwhile wait for this worker.
                while (waiting := self._waiting.pop(key, None)) is not None:
                    await self._write(key[0], waiting)
            finally:
                self._writing.discard(key)
        if not self._writing and not self._queue:
            self._idle.set()

    async def _write(self, namespace: str, waiting: _Waiting) -> None:
        if await publish(self.client, namespace, self.component, waiting.rollout, waiting.events):
            self.written += 1


async def publish(
    client: KubeClient,
    namespace: str,
    component: str,
    rollout: Mapping[str, Any],
    events: Sequence[Event],
) -> bool:
    """Write the one Kubernetes Event of `events`; a refusal is logged, never raised."""
    try:
        body = documents.kube_event(rollout, events, namespace, component)
        await client.create(EVENTS, namespace, body)
        return True
    except (KubeError, ValueError, TypeError) as exc:  # refused, or unwritable data
        log.warning(
            "the Kubernetes Event of %d events for rollout %r not written (status saved): %s",
            len(events),
            (rollout.get("metadata") or {}).get("name"),
            exc,
        )
        return False
