"""A Kubernetes client that writes nothing: every write is a server-side dry-run (`dryRun=All`).

`serinus plan` and the operator's dry-run annotation hand this client to the real routers and
platforms. Reads go to the live cluster through a view of the plan's own writes (so the second
weight change of a VirtualService starts from the first one's result, as in a real rollout);
each write is sent to the API server with `?dryRun=All`, so the server validates it (schema,
immutable fields, RBAC, admission) and answers with the object as it would store it, and
nothing is persisted. The answer enters the view and the list of writes the plan shows.

The guard sits under the client: its transport adds `dryRun=All` to every request that is
not a read, whatever method or caller sent it. An object the plan created exists only in the
view: a later change of it is checked by the server as a dry-run create of the new body (there
is nothing to update), and deleting it sends nothing. A live object the plan deleted and then
creates again is checked as an update of the live one (a create would conflict with it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, replace
from typing import Any

import httpx

from serinus.adapters.kube.client import KubeClient, Object, ObjectList, PatchKind
from serinus.adapters.kube.connection import Connection
from serinus.adapters.kube.errors import AlreadyExists
from serinus.adapters.kube.resources import ObjectRef, Resource
from serinus.adapters.kube.transport import REQUEST_POOL
from serinus.core.errors import KubeError, NotFound, SerinusError

DRY_RUN = {"dryRun": "All"}
READS = frozenset({"GET", "HEAD", "OPTIONS"})
USER_AGENT = "serinus-dry-run"  # the audit log tells a plan's requests from a rollout's
# Set by the server on every write; a new body must not carry them, a diff ignores them.
SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation")

Key = tuple[str, str, str]  # (plural.group, namespace, name)


class DryRunTransport(httpx.AsyncBaseTransport):
    """Adds `dryRun=All` to every request that is not a read before it leaves, and names
    itself in the User-Agent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in READS:
            request.url = request.url.copy_merge_params(DRY_RUN)
        request.headers["User-Agent"] = USER_AGENT
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(frozen=True)
class DryRunWrite:
    """One write the plan sent, and the server's answer (or its refusal)."""

    verb: str  # create, update, delete
    kind: str
    namespace: str
    name: str
    before: Object | None  # the object in the plan's view before the write (None: none)
    after: Object | None  # the server's dry-run answer (None: deleted, or refused)
    checked: bool  # False: not sent (a delete of an object only the plan created)
    error: str | None = None  # the server's refusal


def _key(resource: Resource, namespace: str | None, name: str) -> Key:
    return resource.qualified, namespace or "", name


def fresh(body: Mapping[str, Any]) -> Object:
    """`body` without the fields the server sets, to create it anew."""
    copied = copy.deepcopy(dict(body))
    metadata = copied.get("metadata") or {}
    for name in SERVER_FIELDS:
        metadata.pop(name, None)
    copied.pop("status", None)
    return copied


def _matches(obj: Mapping[str, Any], label_selector: str | None) -> bool:
    """Equality selectors only (`a=b,c==d`): the ones serinus's adapters use."""
    if not label_selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in label_selector.split(","):
        name, sep, value = term.replace("==", "=").partition("=")
        if not sep or "!" in name:
            raise KubeError(f"dry-run: label selector {label_selector!r} is not supported")
        if labels.get(name.strip()) != value.strip():
            return False
    return True


class DryRunClient(KubeClient):
    """A client of one API server that only ever sends dry-run writes; see the module doc."""

    def __init__(
        self,
        connection: Connection,
        *,
        inner: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        """`inner`: the transport under the dry-run guard (default: HTTP to the server)."""
        below = inner or httpx.AsyncHTTPTransport(verify=connection.verify, limits=REQUEST_POOL)
        super().__init__(connection, transport=DryRunTransport(below), **options)
        self._view: dict[Key, Object | None] = {}  # None: deleted by the plan
        self._planned: set[Key] = set()  # created by the plan: not on the server
        self._deleted_live: dict[
            Key, str
        ] = {}  # live objects the plan deleted: their resourceVersion
        self.writes: list[DryRunWrite] = []

    def enable_cache(self, resources: Sequence[Resource], *, cluster_wide: bool = False) -> Any:
        raise TypeError("a dry-run client reads the live cluster: no watch cache")

    # --- reads through the view ---------------------------------------------------------------

    async def get(
        self,
        ref: ObjectRef,
        subresource: str | None = None,
        *,
        cached: bool = True,
        copy: bool = True,  # the view's objects are copied whatever is asked
    ) -> Object:
        key = _key(ref.resource, ref.namespace, ref.name)
        if subresource is None and key in self._view:
            found = self._view[key]
            if found is None:
                raise NotFound(f"{ref.describe()} not found: the plan deleted it")
            return deepcopy(found)
        return await super().get(ref, subresource, cached=False)

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        cached: bool = True,
    ) -> ObjectList:
        live = await super().list(
            resource,
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            cached=False,
        )
        mine = {
            key: obj
            for key, obj in self._view.items()
            if key[0] == resource.qualified and namespace in (None, key[1])
        }
        if mine and field_selector:
            raise KubeError("dry-run: a field selector over the plan's own writes")
        names = {(key[1], key[2]) for key in mine}
        items = [
            item
            for item in live.items
            if ((item["metadata"].get("namespace") or ""), item["metadata"]["name"]) not in names
        ]
        items += [
            copy.deepcopy(o) for o in mine.values() if o is not None and _matches(o, label_selector)
        ]
        return ObjectList(items, live.resource_version)

    # --- writes: dry-run, into the view -------------------------------------------------------

    async def create(self, resource: Resource, namespace: str | None, body: Object) -> Object:
        name = str((body.get("metadata") or {}).get("name", ""))
        key = _key(resource, namespace, name)
        if self._view.get(key) is not None:
            raise AlreadyExists(f"{ObjectRef(resource, namespace, name).describe()} already exists")
        if key in self._deleted_live:  # still on the server: check the body as its update
            again = fresh(body)
            again.setdefault("metadata", {})["resourceVersion"] = self._deleted_live[key]
            answer = await self._sent("create", resource, namespace, name, None, again, "update")
            answer.setdefault("metadata", {})["resourceVersion"] = self._deleted_live.pop(key)
        else:
            answer = await self._sent("create", resource, namespace, name, None, body, "create")
            self._planned.add(key)
        self._view[key] = answer
        return copy.deepcopy(answer)

    async def replace(self, ref: ObjectRef, body: Object, subresource: str | None = None) -> Object:
        if subresource is not None:
            raise KubeError(f"dry-run: writing {ref.describe()}/{subresource} is not planned")
        key = _key(ref.resource, ref.namespace, ref.name)
        before = await self.get(ref)  # NotFound as the server would answer
        if key in self._planned:  # only in the view: check the new body as a create
            answer = await self._sent(
                "update", ref.resource, ref.namespace, ref.name, before, fresh(body), "create"
            )
        else:
            answer = await self._sent(
                "update", ref.resource, ref.namespace, ref.name, before, body, "update"
            )
            # The live object is unchanged: the next write must carry its resourceVersion.
            version = (before.get("metadata") or {}).get("resourceVersion")
            answer.setdefault("metadata", {})["resourceVersion"] = version
        self._view[key] = answer
        return copy.deepcopy(answer)

    async def patch(
        self,
        ref: ObjectRef,
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        kind: PatchKind = "merge",
        subresource: str | None = None,
    ) -> Object:
        raise KubeError(f"dry-run: a patch of {ref.describe()} is not planned (no adapter uses it)")

    async def delete(
        self, ref: ObjectRef, *, missing_ok: bool = False, propagation_policy: str | None = None
    ) -> Object | None:
        key = _key(ref.resource, ref.namespace, ref.name)
        try:
            before = await self.get(ref)
        except NotFound:
            if missing_ok:
                return None
            raise
        write = DryRunWrite(
            "delete",
            str(before.get("kind") or ref.resource.kind),
            ref.namespace or "",
            ref.name,
            before,
            None,
            key not in self._planned,
        )
        answer: Object | None = None
        if write.checked:
            try:
                answer = await super().delete(ref, propagation_policy=propagation_policy)
            except SerinusError as exc:
                self.writes.append(replace(write, error=str(exc)))
                raise
            self._deleted_live[key] = str(
                (before.get("metadata") or {}).get("resourceVersion") or ""
            )
        self.writes.append(write)
        self._view[key] = None
        self._planned.discard(key)
        return answer

    async def _sent(
        self,
        verb: str,
        resource: Resource,
        namespace: str | None,
        name: str,
        before: Object | None,
        body: Object,
        request: str,
    ) -> Object:
        """Send `body` as a dry-run `request` (create or update) and record it as `verb`."""
        kind = str(body.get("kind") or resource.kind)
        try:
            if request == "create":
                answer = await super().create(resource, namespace, body)
            else:
                answer = await super().replace(ObjectRef(resource, namespace, name), body)
        except SerinusError as exc:
            self.writes.append(
                DryRunWrite(verb, kind, namespace or "", name, before, None, True, str(exc))
            )
            raise
        self.writes.append(DryRunWrite(verb, kind, namespace or "", name, before, answer, True))
        return answer
