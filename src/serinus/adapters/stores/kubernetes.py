"""The StateStore of the Kubernetes mode: the Rollout custom resources of one namespace.

- `submit` creates the Rollout object or replaces its spec, labels and annotations (main
  endpoint: status is never touched there);
- `save`, `record_intent` write the `status` subresource with read-modify-write on its
  resourceVersion (see rollout_resource for the layout and why intents and history live there);
- each save with events also becomes one core/v1 Event on the Rollout (`kubectl describe sro
  NAME`; see rollout_resource.kube_event). It is a courtesy copy written after the status: if
  the API refuses it (RBAC), the save still stands and a warning is logged. Given an
  EventRecorder (the operator), the store hands it the Event and returns (kube_events.py);
- intent ids come from a counter ConfigMap (`serinus-intent-ids`) shared by every rollout of the
  namespace, so an id names one intent even across rollouts; it is advanced with the same
  optimistic concurrency, so concurrent CLIs never get the same id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import ValidationError

from serinus.adapters.kube.client import KubeClient, Object
from serinus.adapters.kube.errors import AlreadyExists
from serinus.adapters.kube.resources import CONFIGMAPS, ObjectRef
from serinus.adapters.stores import kube_events
from serinus.adapters.stores import rollout_resource as documents
from serinus.adapters.stores.arguments import check_consumed, check_limit
from serinus.adapters.stores.kube_events import EventRecorder
from serinus.core.errors import InvalidInput, NotFound, StoreError
from serinus.core.events import Event
from serinus.core.intents import Intent
from serinus.core.spec import Rollout
from serinus.core.status import RolloutStatus

T = TypeVar("T")

log = logging.getLogger(__name__)

INTENT_COUNTER = "serinus-intent-ids"


class KubernetesStateStore:
    """StateStore on the Rollout objects of `namespace`; closes the client only if it owns it."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str | None = None,
        *,
        owns_client: bool = False,
        component: str = "serinus",
        events: EventRecorder | None = None,
    ) -> None:
        self.client = client
        self.namespace = namespace or client.default_namespace
        self.component = component
        # None: each save writes its Event before returning (a CLI may exit right after).
        self._events = events
        self._owns_client = owns_client
        self._closed = False

    def _ref(self, name: str) -> ObjectRef:
        if self._closed:
            raise StoreError(
                f"the Kubernetes state store of namespace {self.namespace!r} is closed"
            )
        return ObjectRef(documents.ROLLOUTS, self.namespace, name)

    def _where(self, name: str) -> str:
        return f"rollout {name!r} in namespace {self.namespace!r}"

    async def _get(self, name: str) -> Object | None:
        # Read only (parsed, never changed): the watch cache's object itself, not a copy.
        return await self.client.get_or_none(self._ref(name), copy=False)

    def _read(self, name: str, parse: Callable[[], T]) -> T:
        try:
            return parse()
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"{self._where(name)}: the stored object is unreadable: {exc}"
            ) from exc

    # --- specs ---------------------------------------------------------------------------------

    async def submit(self, rollout: Rollout) -> None:
        if rollout.metadata.namespace != self.namespace:
            raise InvalidInput(
                [
                    f"metadata.namespace: {rollout.metadata.namespace!r} is not the store's "
                    f"namespace {self.namespace!r}"
                ],
                source=f"rollout {rollout.name!r}",
            )
        ref = self._ref(rollout.name)
        try:
            await self.client.create(
                documents.ROLLOUTS, self.namespace, documents.new_object(rollout, self.namespace)
            )
        except AlreadyExists:
            await self.client.read_modify_write(ref, lambda obj: documents.with_spec(obj, rollout))

    async def get_spec(self, name: str) -> Rollout | None:
        obj = await self._get(name)
        if obj is None:
            return None
        return self._read(name, lambda: documents.rollout_of(obj))

    async def names(self) -> list[str]:
        self._ref("-")
        listed = await self.client.list(documents.ROLLOUTS, self.namespace)
        return sorted(str(item["metadata"]["name"]) for item in listed.items)

    async def delete(self, name: str) -> None:
        try:
            await self.client.delete(self._ref(name))
        except NotFound:
            raise NotFound(f"{self._where(name)} not found") from None

    # --- status and events ---------------------------------------------------------------------

    async def load(self, name: str) -> RolloutStatus | None:
        obj = await self._get(name)
        if obj is None:
            return None
        return self._read(name, lambda: documents.serinus_status(documents.status_of(obj)))

    async def save(
        self,
        name: str,
        status: RolloutStatus,
        events: Sequence[Event],
        consumed: Sequence[Intent],
    ) -> None:
        check_consumed(consumed)

        def mutate(current: Object) -> Object:
            spec = self._read(name, lambda: documents.rollout_of(current))
            current["status"] = documents.saved_status(
                current, spec, status, events, consumed, name
            )
            return current

        written = await self._on_status(name, mutate, "save status")
        if events and self._events is not None:
            self._events.record(self.namespace, written, events)
        elif events:
            await self._publish(written, events)

    async def history(self, name: str, limit: int = 200) -> list[Event]:
        check_limit(limit, "history request")
        obj = await self._get(name)
        if obj is None or limit == 0:
            return []
        records = documents.status_of(obj).get("history") or []
        return self._read(name, lambda: [Event.model_validate(r) for r in records[-limit:]])

    async def _publish(self, rollout: Object, events: Sequence[Event]) -> None:
        await kube_events.publish(self.client, self.namespace, self.component, rollout, events)

    # --- intents -------------------------------------------------------------------------------

    async def record_intent(self, name: str, intent: Intent) -> Intent:
        if await self._get(name) is None:
            raise NotFound(f"{self._where(name)} not found: submit it before recording operations")
        intent_id = await self._next_intent_id()
        record = documents.intent_record(intent, intent_id)

        def mutate(current: Object) -> Object:
            status = documents.status_of(current)
            status["intents"] = [*(status.get("intents") or []), record]
            current["status"] = status
            return current

        await self._on_status(name, mutate, "record an operation")
        return documents.intent_of(record)

    async def pending_intents(self, name: str) -> list[Intent]:
        return [i for i, done in await self._intent_records(name) if not done]

    async def intents(self, name: str, limit: int = 100) -> list[Intent]:
        check_limit(limit, "intents request")
        if limit == 0:
            return []
        return [intent for intent, _ in (await self._intent_records(name))[-limit:]]

    async def _intent_records(self, name: str) -> list[tuple[Intent, bool]]:
        obj = await self._get(name)
        if obj is None:
            return []
        records = documents.status_of(obj).get("intents") or []
        return self._read(
            name, lambda: [(documents.intent_of(r), bool(r.get("consumed"))) for r in records]
        )

    async def _next_intent_id(self) -> int:
        ref = ObjectRef(CONFIGMAPS, self.namespace, INTENT_COUNTER)

        def advance(counter: Object) -> Object:
            data = dict(counter.get("data") or {})
            data["last"] = str(int(data.get("last", "0")) + 1)
            counter["data"] = data
            return counter

        for _ in range(3):
            try:
                written = await self.client.read_modify_write(ref, advance)
                return int(written["data"]["last"])
            except NotFound:
                try:
                    created = await self.client.create(
                        CONFIGMAPS,
                        self.namespace,
                        {
                            "metadata": {
                                "name": INTENT_COUNTER,
                                "labels": {"app.kubernetes.io/managed-by": "serinus"},
                            },
                            "data": {"last": "1"},
                        },
                    )
                    return int(created["data"]["last"])
                except AlreadyExists:
                    continue  # another writer created it first: advance theirs
        raise StoreError(f"cannot allocate an intent id in namespace {self.namespace!r}")

    # --- plumbing ------------------------------------------------------------------------------

    async def _on_status(self, name: str, mutate: Callable[[Object], Object], doing: str) -> Object:
        try:
            return await self.client.read_modify_write(
                self._ref(name), mutate, subresource="status"
            )
        except documents.UnknownIntent:
            raise
        except NotFound:
            raise NotFound(f"{self._where(name)} not found: cannot {doing}") from None

    async def close(self) -> None:
        """Later calls raise StoreError; the client is closed when the store owns it."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self.client.close()

    async def __aenter__(self) -> KubernetesStateStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
