"""An informer-style watch cache: one LIST + WATCH per resource kind and namespace.

The operator reads the same Deployments, pods and routing objects on every reconcile. Listing
them by label selector each time makes the API server decode every object of the namespace from
etcd (total work grows with the square of the Rollouts), so reads come from here instead: an
`Informer` lists a (resource, namespace) once, then watches from the list's resourceVersion,
resuming from the last version it saw when the server ends a watch, and lists again when the
version is too old (410 Gone, an ERROR event).

Reads are only served once the first list has arrived (`synced`); until then, and for good when
the server refuses the watch (403: the account may list but not watch), the caller reads from the
server. Objects this client wrote are put in at once (`observe`), so a reconcile reads its own
writes before their watch event arrives; a newer version never gives way to an older one.

Listeners hear of changes made by others: not of this client's own writes, nor of the watch
event that echoes one (the version already held). A Rollout's driver is woken by its listener;
waking it for its own writes would make every reconcile that writes run a second one for
nothing. A cluster-wide informer (namespace None), when one runs, also serves the reads of any
one namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from serinus.adapters.kube.resources import Resource
from serinus.core.errors import Forbidden, SerinusError

if TYPE_CHECKING:
    from serinus.adapters.kube.client import KubeClient

log = logging.getLogger("serinus.kube.cache")

Object = dict[str, Any]
Listener = Callable[[Resource, str, Object], None]  # resource, event type, object
CacheKey = tuple[Resource, str | None]


def _version(obj: Mapping[str, Any]) -> int | None:
    """The object's resourceVersion as a number, where it is one (etcd's revision)."""
    raw = (obj.get("metadata") or {}).get("resourceVersion")
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return None


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


class SelectorError(ValueError):
    """A label selector this cache does not evaluate: read from the server instead."""


def matches(selector: str | None, labels: Mapping[str, str]) -> bool:
    """Whether `labels` satisfy an equality-based selector (`a=b,c!=d,e`, `!f`).

    Set-based terms (`in`, `notin`) raise SelectorError, so the caller asks the server.
    """
    if not selector:
        return True
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if " in " in term or " notin " in term or "(" in term:
            raise SelectorError(f"set-based label selector term {term!r}")
        if "!=" in term:
            key, value = (part.strip() for part in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (part.strip() for part in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def required_labels(selector: str | None) -> list[tuple[str, str]]:
    """The `key=value` terms of a selector: every match carries each of these labels."""
    found = []
    for raw in (selector or "").split(","):
        term = raw.strip()
        if "=" in term and "!=" not in term and " in " not in term and " notin " not in term:
            key, value = (part.strip() for part in term.replace("==", "=").split("=", 1))
            found.append((key, value))
    return found


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


class Informer:
    """The objects of one resource in one namespace (None: every namespace), kept current."""

    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        namespace: str | None,
        *,
        watch_seconds: int = 300,
        retry_seconds: float = 1.0,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.watch_seconds = watch_seconds
        self.retry_seconds = retry_seconds
        self.objects: dict[tuple[str, str], Object] = {}  # (namespace, name) -> object
        # (label, value) -> the keys of the objects carrying it: a selector's `key=value` term
        # narrows a LIST to those (scanning every pod of a namespace per reconcile grew with N).
        self._by_label: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self.synced = asyncio.Event()
        self.refused = False  # the server refuses to list or watch: never serve reads
        self.refusal: Forbidden | None = None  # what the server said, then
        self.lists = 0  # how many times the collection was listed (1 unless 410 or errors)
        self._resource_version = ""
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def resource_version(self) -> str:
        return self._resource_version

    @property
    def serving(self) -> bool:
        return self.synced.is_set() and not self.refused

    def start(self) -> None:
        if self._task is None:
            what = f"informer {self.resource.qualified} {self.namespace or '(all)'}"
            self._task = asyncio.create_task(self._run(), name=what)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def subscribe(self, listener: Listener) -> None:
        """`listener(resource, event type, object)` for every change others made."""
        self._listeners.append(listener)

    async def ended(self) -> None:
        """Wait until the informer gives up (the server refuses to list or watch)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def get(self, namespace: str | None, name: str) -> Object | None:
        return self.objects.get((namespace or "", name))

    def select(self, namespace: str | None, label_selector: str | None) -> list[Object]:
        """The cached objects of `namespace` (None: all) matching the selector, sorted by name."""
        terms = required_labels(label_selector)
        if terms:
            keys = min((self._by_label.get(term, set()) for term in terms), key=len)
            candidates = [(key, self.objects[key]) for key in keys]
        else:
            candidates = list(self.objects.items())
        found = [
            obj
            for (ns, _), obj in candidates
            if (namespace is None or ns == namespace) and matches(label_selector, _labels(obj))
        ]
        return sorted(found, key=_name)

    def _store(self, key: tuple[str, str], obj: Object | None) -> None:
        """Hold `obj` under `key` (None: drop it), keeping the label index in step."""
        old = self.objects.pop(key, None)
        for label in _labels(old or {}).items():
            keys = self._by_label.get(label)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_label[label]
        if obj is not None:
            self.objects[key] = obj
            for label in _labels(obj).items():
                self._by_label.setdefault(label, set()).add(key)

    def observe(self, kind: str, obj: Object, *, ours: bool = False) -> None:
        """An object as the server returned it: a write of ours (`ours`), or a watch event."""
        metadata = obj.get("metadata") or {}
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name", "")))
        current = self.objects.get(key)
        new, old = _version(obj), _version(current) if current is not None else None
        if (
            new is not None
            and old is not None
            and (new < old or (new == old and kind != "DELETED"))
        ):
            return  # an older version than the one held (a late event), or its echo
        self._store(key, None if kind == "DELETED" else obj)
        if not ours:
            self._tell(kind, obj)

    def _tell(self, kind: str, obj: Object) -> None:
        for listener in self._listeners:
            listener(self.resource, kind, obj)

    async def _run(self) -> None:
        while True:
            try:
                if not self._resource_version:
                    await self._list()
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Forbidden as exc:
                self.refused, self.refusal = True, exc
                log.warning("not caching %s: %s", self.resource.qualified, exc)
                return
            except SerinusError as exc:
                log.warning("%s informer: %s; retrying", self.resource.qualified, exc)
                await asyncio.sleep(self.retry_seconds)

    async def _list(self) -> None:
        listed = await self.client.list(self.resource, self.namespace, cached=False)
        self.lists += 1
        fresh = {
            (str((o.get("metadata") or {}).get("namespace") or ""), _name(o)): o
            for o in listed.items
        }
        gone = [obj for key, obj in self.objects.items() if key not in fresh]
        self.objects, self._by_label = {}, {}
        for obj in listed.items:
            self.observe("ADDED", obj)
        for obj in gone:
            self._tell("DELETED", obj)
        self._resource_version = listed.resource_version
        self.synced.set()

    async def _watch(self) -> None:
        async for event in self.client.watch(
            self.resource,
            self.namespace,
            resource_version=self._resource_version,
            timeout_seconds=self.watch_seconds,
        ):
            if event.type == "ERROR":
                # 410 Gone (too old) or another failure: list again, then watch from there.
                self._resource_version = ""
                return
            version = (event.object.get("metadata") or {}).get("resourceVersion")
            if version:
                self._resource_version = str(version)
            if event.type != "BOOKMARK":
                self.observe(event.type, event.object)


class WatchCache:
    """The informers of one client, started on the first read of each (resource, namespace)."""

    def __init__(
        self, client: KubeClient, resources: Iterable[Resource], *, cluster_wide: bool = False
    ) -> None:
        self.client = client
        self.resources = frozenset(resources)
        # Watching every namespace: one informer per resource serves the reads of all of them
        # (one per resource and namespace was a LIST + WATCH per namespace and kind).
        self.cluster_wide = cluster_wide
        self.informers: dict[CacheKey, Informer] = {}
        self._listeners: list[Listener] = []

    def informer(self, resource: Resource, namespace: str | None) -> Informer | None:
        """The informer for reads of `resource` in `namespace`, started if need be."""
        if resource not in self.resources:
            return None
        key = (resource, None if self.cluster_wide else namespace)
        informer = self.informers.get(key) or self.informers.get((resource, None))
        if informer is None:
            informer = Informer(self.client, resource, key[1])
            for listener in self._listeners:
                informer.subscribe(listener)
            self.informers[key] = informer
            informer.start()
        return informer

    def subscribe(self, listener: Listener) -> None:
        """Every change of every cached resource (present and future informers)."""
        self._listeners.append(listener)
        for informer in self.informers.values():
            informer.subscribe(listener)

    def observe(self, resource: Resource, namespace: str | None, kind: str, obj: Object) -> None:
        """A write of ours: into the informer serving its namespace, if one runs."""
        informer = self.informers.get((resource, namespace)) or self.informers.get((resource, None))
        if informer is not None and informer.synced.is_set():
            informer.observe(kind, obj, ours=True)

    async def close(self) -> None:
        informers = list(self.informers.values())
        self.informers.clear()
        for informer in informers:
            await informer.stop()
