"""A Kubernetes API server stand-in for tests: in-process, in memory, on a loopback port.

It implements what serinus and kopf use of the real API, with the semantics that matter for
correctness tests:

- discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`, with or
  without a trailing slash), for built-in resources and any registered CRD;
- namespaced and cluster-scoped CRUD for any group/version/plural; one storage per group and
  plural, served at every registered version (like a CRD without conversion webhooks);
- `resourceVersion` (one global counter), `uid`, `generation`, `creationTimestamp`;
- 201 on create, 409 AlreadyExists, 409 Conflict on a PUT (or patch) with a stale
  resourceVersion, 422 when resourceVersion is missing from a PUT;
- merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge treated as merge for built-in
  kinds, 415 for server-side apply;
- the `status` subresource (the main endpoint ignores status, `/status` changes only status);
- finalizers and `deletionTimestamp`; label and field selectors on list, watch, delete;
- watch streams from a resourceVersion with `timeoutSeconds`, ERROR 410 for expired versions;
- optional validation of custom resources against their CRD schema (422 like the real server);
- an injectable RBAC rule (`forbid`) answering 403 with the real message, a bearer token
  checked on every request (401), and hooks run before a request is handled (to inject a
  concurrent writer between a client's read and write).

Why not kmock's KubernetesEmulator: it stores every write as a dict merge (PUT included), has
no resourceVersion, status subresource or stale-write checks, and its watch ignores
resourceVersion and timeoutSeconds; adding them means replacing its storage and every serving
handler through its private `kmock._internal` API. A small server of our own is less code and
states the semantics serinus relies on in one place.

Use it in the test's event loop (`async with KubeApiStandIn() as api`) or, for code that
blocks (a CLI run, a subprocess waited on synchronously), in a thread of its own
(`with KubeApiStandIn().serving_in_thread() as api`). `write_kubeconfig` gives a kubeconfig
the official client, serinus and kopf accept. See kube_stand_in.kube_fixtures for fixtures.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import datetime
import inspect
import itertools
import json
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from kube_stand_in.kube_documents import (
    PatchError,
    json_patch,
    label_selector_matches,
    merge_patch,
)
from serinus.adapters.kube.resources import BUILTIN_RESOURCES, Resource
from serinus.adapters.kube.schemas import SchemaRegistry

TOKEN = "serinus-stand-in-token"
USER = "system:serviceaccount:default:serinus"
_WATCH_HISTORY = 20_000  # events kept for watches resuming from a resourceVersion


@dataclass(frozen=True)
class ServedResource:
    """A resource the stand-in serves, at one or more versions of its group."""

    group: str
    versions: tuple[str, ...]
    plural: str
    kind: str
    namespaced: bool = True
    subresources: tuple[str, ...] = ()
    custom: bool = False  # a CRD (strategic merge patches are refused, as the real server does)

    @classmethod
    def of(cls, resource: Resource, subresources: tuple[str, ...] = ()) -> ServedResource:
        return cls(
            resource.group,
            (resource.version,),
            resource.plural,
            resource.kind,
            resource.namespaced,
            subresources,
        )


_BUILTIN_STATUS = {"deployments", "replicasets", "jobs", "pods", "services", "namespaces"}


@dataclass(frozen=True)
class ApiRequest:
    """One request as the stand-in understood it (kept in `KubeApiStandIn.requests`)."""

    method: str
    verb: str  # get, list, watch, create, update, patch, delete, deletecollection
    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str | None
    body: Any = None
    content_type: str = ""


@dataclass
class ForbidRule:
    """Answer 403 to requests matching every set field (None matches anything)."""

    verb: str | None = None
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    group: str | None = None

    def matches(self, request: ApiRequest) -> bool:
        return all(
            wanted is None or wanted == actual
            for wanted, actual in (
                (self.verb, request.verb),
                (self.plural, request.plural),
                (self.namespace, request.namespace),
                (self.name, request.name),
                (self.group, request.group),
            )
        )


Hook = Callable[[ApiRequest], Awaitable[None] | None]


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, causes: list[Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.causes = code, reason, message, causes or []

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.causes:
            body["details"] = {"causes": self.causes}
        return body


@dataclass(frozen=True)
class Change:
    """One write as the stand-in recorded it (see `KubeApiStandIn.changes`)."""

    resource_version: int
    group: str
    plural: str
    type: str  # ADDED, MODIFIED, DELETED
    object: dict[str, Any]


@dataclass
class _Event:
    rv: int
    key: tuple[str, str]  # group, plural
    type: str
    obj: dict[str, Any]


@dataclass(eq=False)
class _Watcher:
    woken: asyncio.Event = field(default_factory=asyncio.Event)


class KubeApiStandIn:
    """The in-memory API server. Not for production: no authz beyond `forbid`, no admission."""

    def __init__(
        self,
        *,
        schemas: SchemaRegistry | None = None,
        token: str | None = TOKEN,
        namespace: str = "default",
    ) -> None:
        self.token = token
        self.namespace = namespace
        self.schemas = schemas
        self.requests: list[ApiRequest] = []
        self._resources: dict[tuple[str, str], ServedResource] = {}
        self._objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._history: collections.deque[_Event] = collections.deque(maxlen=_WATCH_HISTORY)
        self._rv = itertools.count(1)
        self._last_rv = 0
        self._lock = threading.RLock()
        self._rules: list[ForbidRule] = []
        self._hooks: list[Hook] = []
        self._watchers: set[_Watcher] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self.port = 0
        self.kubeconfig_path: Path | None = None  # set by the fixtures
        for resource in BUILTIN_RESOURCES:
            subresources = ("status",) if resource.plural in _BUILTIN_STATUS else ()
            self.register(ServedResource.of(resource, subresources))
        if schemas is not None:
            self.register_crds(schemas)
        self._ensure_namespace(namespace)

    # --- configuration ------------------------------------------------------------------------

    def register(self, resource: ServedResource) -> None:
        with self._lock:
            known = self._resources.get((resource.group, resource.plural))
            if known is not None:
                versions = tuple(dict.fromkeys([*known.versions, *resource.versions]))
                resource = ServedResource(
                    resource.group,
                    versions,
                    resource.plural,
                    resource.kind,
                    resource.namespaced,
                    tuple(sorted({*known.subresources, *resource.subresources})),
                    resource.custom or known.custom,
                )
            self._resources[(resource.group, resource.plural)] = resource

    def register_crds(self, schemas: SchemaRegistry) -> None:
        """Serve every CRD version the registry holds (and validate writes against it)."""
        self.schemas = schemas
        for version in schemas.versions:
            self.register(
                ServedResource(
                    version.group,
                    (version.version,),
                    version.plural,
                    version.kind,
                    version.namespaced,
                    version.subresources,
                    custom=True,
                )
            )

    def register_crd_document(self, crd: Mapping[str, Any]) -> None:
        """Serve a CRD given as a document (e.g. serinus's own Rollout CRD), without schema."""
        spec = crd["spec"]
        for version in spec.get("versions") or []:
            self.register(
                ServedResource(
                    spec["group"],
                    (version["name"],),
                    spec["names"]["plural"],
                    spec["names"]["kind"],
                    spec.get("scope", "Namespaced") == "Namespaced",
                    tuple(sorted((version.get("subresources") or {}).keys())),
                    custom=True,
                )
            )

    def forbid(self, **match: str | None) -> ForbidRule:
        """Deny matching requests with 403, e.g. `forbid(verb="update", plural="httproutes")`."""
        rule = ForbidRule(**match)
        self._rules.append(rule)
        return rule

    def allow(self, rule: ForbidRule) -> None:
        self._rules.remove(rule)

    def add_hook(self, hook: Hook) -> Callable[[], None]:
        """Run `hook` before every request is handled; returns a function removing it."""
        self._hooks.append(hook)
        return lambda: self._hooks.remove(hook)

    # --- direct state access (thread-safe; emits watch events) --------------------------------

    def stored(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        """A copy of an object as stored (at the version `resource` names), or None."""
        with self._lock:
            obj = self._objects.get(self._key(resource.group, resource.plural, namespace, name))
            return self._present(obj, resource.group, resource.version) if obj else None

    def put(self, resource: Resource, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create or overwrite an object as another writer would, bumping resourceVersion.

        Unlike the HTTP API, status is kept and no resourceVersion is checked: this is how a
        test plays a controller or a concurrent editor.
        """
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or (self.namespace if resource.namespaced else None)
        with self._lock:
            key = self._key(resource.group, resource.plural, namespace, meta["name"])
            existing = self._objects.get(key)
            stored = copy.deepcopy(dict(obj))
            stored["apiVersion"] = resource.api_version
            stored["kind"] = resource.kind or stored.get("kind", "")
            if resource.namespaced:
                self._ensure_namespace(namespace)
            self._stamp(stored, existing, namespace, spec_changed=True)
            self._objects[key] = stored
            self._record(
                resource.group, resource.plural, "MODIFIED" if existing else "ADDED", stored
            )
            return copy.deepcopy(stored)

    def edit(
        self, resource: Resource, namespace: str | None, name: str, change: Callable[[Any], None]
    ) -> dict[str, Any]:
        """Change a stored object in place (`change` mutates a copy), as a concurrent writer."""
        current = self.stored(resource, namespace, name)
        if current is None:
            raise KeyError(f"{resource.qualified} {namespace}/{name} is not stored")
        change(current)
        return self.put(resource, current)

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out (0 before the first write)."""
        return self._last_rv

    def changes(self, since: int = 0, resource: Resource | None = None) -> list[Change]:
        """Every write after resourceVersion `since`, oldest first (what watches stream)."""
        with self._lock:
            return [
                Change(e.rv, e.key[0], e.key[1], e.type, copy.deepcopy(e.obj))
                for e in self._history
                if e.rv > since and (resource is None or e.key == (resource.group, resource.plural))
            ]

    # --- serving ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only through the server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self._stopping = True
        for watcher in list(self._watchers):
            watcher.woken.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> KubeApiStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def serving_in_thread(self) -> Iterator[KubeApiStandIn]:
        """Serve from a thread with its own event loop, for tests whose code blocks."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="kube-api-stand-in", daemon=True)
        thread.start()
        started.wait(30)
        if failure:
            raise failure[0]
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)
            loop.close()

    def kubeconfig(self, namespace: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {"token": self.token} if self.token else {}
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stand-in", "cluster": {"server": self.url}}],
            "users": [{"name": "serinus", "user": user}],
            "contexts": [
                {
                    "name": "stand-in",
                    "context": {
                        "cluster": "stand-in",
                        "user": "serinus",
                        "namespace": namespace or self.namespace,
                    },
                }
            ],
            "current-context": "stand-in",
        }

    def write_kubeconfig(self, path: str | Path, namespace: str | None = None) -> Path:
        target = Path(path)
        target.write_text(yaml.safe_dump(self.kubeconfig(namespace)), encoding="utf-8")
        return target

    # --- request handling ---------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except ApiError as exc:
            return web.json_response(exc.status(), status=exc.code)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if (
            self.token is not None
            and request.headers.get("Authorization") != f"Bearer {self.token}"
        ):
            raise ApiError(401, "Unauthorized", "Unauthorized")
        discovery = self._discovery(path)
        if discovery is not None:
            if request.method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed")
            return web.json_response(discovery)
        parsed = await self._parse(request, path)
        self.requests.append(parsed)
        for rule in self._rules:
            if rule.matches(parsed):
                raise ApiError(403, "Forbidden", self._forbidden_message(parsed))
        for hook in list(self._hooks):
            result = hook(parsed)
            if inspect.isawaitable(result):
                await result
        if parsed.verb == "watch":
            return await self._watch(request, parsed)
        status, body = self._handle(parsed, request.query)
        return web.json_response(body, status=status)

    def _discovery(self, path: str) -> dict[str, Any] | None:
        if path == "/version":
            return {"major": "1", "minor": "33", "gitVersion": "v1.33.0-serinus-stand-in"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()}
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            return self._resource_list("", parts[1])
        if parts[0] == "apis" and len(parts) == 2:
            for group in self._groups():
                if group["name"] == parts[1]:
                    return {"kind": "APIGroup", "apiVersion": "v1", **group}
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if parts[0] == "apis" and len(parts) == 3:
            return self._resource_list(parts[1], parts[2])
        return None

    def _groups(self) -> list[dict[str, Any]]:
        versions: dict[str, list[str]] = {}
        with self._lock:
            for resource in self._resources.values():
                if resource.group:
                    known = versions.setdefault(resource.group, [])
                    known.extend(v for v in resource.versions if v not in known)
        return [
            {
                "name": group,
                "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in served],
                "preferredVersion": {"groupVersion": f"{group}/{served[0]}", "version": served[0]},
            }
            for group, served in sorted(versions.items())
        ]

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        with self._lock:
            for resource in self._resources.values():
                if resource.group != group or version not in resource.versions:
                    continue
                verbs = [
                    "get",
                    "list",
                    "watch",
                    "create",
                    "update",
                    "patch",
                    "delete",
                    "deletecollection",
                ]
                entries.append(
                    {
                        "name": resource.plural,
                        "singularName": resource.kind.lower(),
                        "namespaced": resource.namespaced,
                        "kind": resource.kind,
                        "verbs": verbs,
                    }
                )
                entries.extend(
                    {
                        "name": f"{resource.plural}/{sub}",
                        "singularName": "",
                        "namespaced": resource.namespaced,
                        "kind": resource.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                    for sub in resource.subresources
                )
        if not entries:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        gv = f"{group}/{version}" if group else version
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": entries,
        }

    async def _parse(self, request: web.Request, path: str) -> ApiRequest:
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and self._served(group, rest[2], False):
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
        subresource = rest[2] if len(rest) > 2 else None
        resource = self._served(group, plural, True)
        if resource is None or version not in resource.versions or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if subresource is not None and subresource not in resource.subresources:
            raise ApiError(404, "NotFound", f"{plural} has no subresource {subresource!r}")
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    if "yaml" not in request.content_type:
                        raise ApiError(400, "BadRequest", f"body is not JSON: {exc}") from exc
                    body = raw.decode(errors="replace")
        verb = {
            ("GET", False): "list",
            ("GET", True): "get",
            ("POST", False): "create",
            ("PUT", True): "update",
            ("PATCH", True): "patch",
            ("DELETE", True): "delete",
            ("DELETE", False): "deletecollection",
        }.get((request.method, name is not None))
        if verb is None:
            raise ApiError(405, "MethodNotAllowed", f"{request.method} {path} is not allowed")
        if verb == "list" and request.query.get("watch") in ("true", "1"):
            verb = "watch"
        return ApiRequest(
            request.method,
            verb,
            group,
            version,
            plural,
            namespace,
            name,
            subresource,
            body,
            request.content_type,
        )

    def _served(self, group: str, plural: str, any_scope: bool) -> ServedResource | None:
        resource = self._resources.get((group, plural))
        if resource is None or (not any_scope and not resource.namespaced):
            return None
        return resource

    def _forbidden_message(self, request: ApiRequest) -> str:
        resource = f"{request.plural}.{request.group}" if request.group else request.plural
        target = f' "{request.name}"' if request.name else ""
        scope = (
            f' in the namespace "{request.namespace}"'
            if request.namespace
            else " at the cluster scope"
        )
        return (
            f'{resource}{target} is forbidden: User "{USER}" cannot {request.verb} resource '
            f'"{request.plural}" in API group "{request.group}"{scope}'
        )

    def _handle(self, request: ApiRequest, query: Mapping[str, str]) -> tuple[int, Any]:
        resource = self._resources[(request.group, request.plural)]
        with self._lock:
            if request.verb == "list":
                return 200, self._list(resource, request, query)
            if request.verb == "get":
                return 200, self._present(
                    self._existing(resource, request), request.group, request.version
                )
            if request.verb == "create":
                return 201, self._create(resource, request)
            if request.verb in ("update", "patch"):
                return 200, self._write(resource, request)
            if request.verb == "delete":
                return 200, self._delete(resource, request)
            deleted = [
                self._delete(
                    resource,
                    ApiRequest(
                        "DELETE",
                        "delete",
                        request.group,
                        request.version,
                        request.plural,
                        obj["metadata"].get("namespace"),
                        obj["metadata"]["name"],
                        None,
                    ),
                )
                for obj in self._matching(resource, request.namespace, query)
            ]
            return 200, self._list_body(resource, request.version, deleted)

    def _key(
        self, group: str, plural: str, namespace: str | None, name: str
    ) -> tuple[str, str, str, str]:
        return (group, plural, namespace or "", name)

    def _existing(self, resource: ServedResource, request: ApiRequest) -> dict[str, Any]:
        assert request.name is not None
        obj = self._objects.get(
            self._key(request.group, request.plural, request.namespace, request.name)
        )
        if obj is None:
            resource_name = (
                f"{resource.plural}.{resource.group}" if resource.group else resource.plural
            )
            raise ApiError(404, "NotFound", f'{resource_name} "{request.name}" not found')
        return obj

    def _present(self, obj: dict[str, Any], group: str, version: str) -> dict[str, Any]:
        shown = copy.deepcopy(obj)
        shown["apiVersion"] = f"{group}/{version}" if group else version
        return shown

    def _matching(
        self, resource: ServedResource, namespace: str | None, query: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        labels = query.get("labelSelector", "")
        fields = query.get("fieldSelector", "")
        found = []
        for (group, plural, ns, _), obj in self._objects.items():
            if (group, plural) != (resource.group, resource.plural):
                continue
            if namespace and ns != namespace:
                continue
            if _selected(obj, labels, fields):
                found.append(obj)
        return sorted(
            found, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
        )

    def _list(
        self, resource: ServedResource, request: ApiRequest, query: Mapping[str, str]
    ) -> dict[str, Any]:
        try:
            items = self._matching(resource, request.namespace, query)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from exc
        return self._list_body(resource, request.version, items)

    def _list_body(
        self, resource: ServedResource, version: str, items: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "apiVersion": f"{resource.group}/{version}" if resource.group else version,
            "kind": f"{resource.kind}List",
            "metadata": {"resourceVersion": str(self._last_rv)},
            "items": [self._present(obj, resource.group, version) for obj in items],
        }

    def _create(self, resource: ServedResource, request: ApiRequest) -> dict[str, Any]:
        body = request.body
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of a create must be an object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", "metadata.name: Required value: name is required")
        namespace = request.namespace if resource.namespaced else None
        if resource.namespaced and not namespace:
            raise ApiError(404, "NotFound", "a namespaced object is created in a namespace")
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the body does not match the URL")
        key = self._key(resource.group, resource.plural, namespace, name)
        if key in self._objects:
            raise ApiError(409, "AlreadyExists", f'{_qualified(resource)} "{name}" already exists')
        obj["apiVersion"] = (
            f"{resource.group}/{request.version}" if resource.group else request.version
        )
        obj["kind"] = resource.kind
        if "status" in resource.subresources:
            obj.pop("status", None)
        meta.pop("resourceVersion", None)
        self._validate(resource, obj)
        self._ensure_namespace(namespace)
        self._stamp(obj, None, namespace, spec_changed=True)
        self._objects[key] = obj
        self._record(resource.group, resource.plural, "ADDED", obj)
        return self._present(obj, resource.group, request.version)

    def _write(self, resource: ServedResource, request: ApiRequest) -> dict[str, Any]:
        existing = self._existing(resource, request)
        current = self._present(existing, resource.group, request.version)
        if request.verb == "update":
            if not isinstance(request.body, dict):
                raise ApiError(400, "BadRequest", "the body of an update must be an object")
            new = copy.deepcopy(request.body)
            sent_rv = (new.get("metadata") or {}).get("resourceVersion")
            if not sent_rv:
                raise ApiError(
                    422,
                    "Invalid",
                    "metadata.resourceVersion: Invalid value: must be specified for an update",
                )
        else:
            new = self._patched(resource, current, request)
            sent_rv = (new.get("metadata") or {}).get("resourceVersion")
            if sent_rv == current["metadata"]["resourceVersion"]:
                sent_rv = None  # the patch did not ask for a precondition
        if sent_rv is not None and str(sent_rv) != existing["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {_qualified(resource)} "{request.name}": '
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
            )
        meta = new.setdefault("metadata", {})
        if meta.get("name") not in (None, request.name):
            raise ApiError(400, "BadRequest", "the name of the body does not match the URL")
        has_status = "status" in resource.subresources
        if request.subresource == "status":
            result = copy.deepcopy(current)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
        else:
            result = new
            result["apiVersion"] = current["apiVersion"]
            result["kind"] = resource.kind
            if has_status:
                if "status" in current:
                    result["status"] = current["status"]
                else:
                    result.pop("status", None)
        self._validate(resource, result)
        spec_changed = _without(result, ("metadata", "status")) != _without(
            current, ("metadata", "status")
        )
        self._stamp(result, existing, request.namespace, spec_changed=spec_changed)
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            return self._remove(resource, request, result)
        self._objects[
            self._key(resource.group, resource.plural, request.namespace, request.name or "")
        ] = result
        self._record(resource.group, resource.plural, "MODIFIED", result)
        return self._present(result, resource.group, request.version)

    def _patched(
        self, resource: ServedResource, current: dict[str, Any], request: ApiRequest
    ) -> dict[str, Any]:
        content_type = request.content_type
        try:
            if content_type == "application/json-patch+json":
                new = json_patch(current, request.body)
            elif content_type == "application/merge-patch+json" or (
                content_type == "application/strategic-merge-patch+json" and not resource.custom
            ):
                if not isinstance(request.body, dict):
                    raise PatchError("a merge patch is an object")
                new = merge_patch(current, request.body)
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: application/json-patch+json, application/merge-patch+json "
                    f"(got {content_type or 'none'})",
                )
        except PatchError as exc:
            raise ApiError(422, "Invalid", f"the patch cannot be applied: {exc}") from exc
        if not isinstance(new, dict):
            raise ApiError(422, "Invalid", "the patched object is not an object")
        return new

    def _delete(self, resource: ServedResource, request: ApiRequest) -> dict[str, Any]:
        existing = self._existing(resource, request)
        if existing["metadata"].get("finalizers"):
            if not existing["metadata"].get("deletionTimestamp"):
                existing["metadata"]["deletionTimestamp"] = _now()
                existing["metadata"]["resourceVersion"] = str(self._next_rv())
                self._record(resource.group, resource.plural, "MODIFIED", existing)
            return self._present(existing, resource.group, request.version)
        return self._remove(resource, request, existing)

    def _remove(
        self, resource: ServedResource, request: ApiRequest, obj: dict[str, Any]
    ) -> dict[str, Any]:
        key = self._key(resource.group, resource.plural, request.namespace, request.name or "")
        self._objects.pop(key, None)
        obj["metadata"]["resourceVersion"] = str(self._next_rv())
        self._record(resource.group, resource.plural, "DELETED", obj)
        return self._present(obj, resource.group, request.version)

    def _validate(self, resource: ServedResource, obj: dict[str, Any]) -> None:
        if self.schemas is None or not resource.custom:
            return
        if not self.schemas.knows(obj.get("apiVersion", ""), resource.kind):
            return
        problems = self.schemas.problems(obj)
        if problems:
            name = (obj.get("metadata") or {}).get("name", "")
            raise ApiError(
                422,
                "Invalid",
                f'{resource.kind}.{resource.group} "{name}" is invalid: ' + "; ".join(problems),
                [
                    {"reason": "FieldValueInvalid", "message": p, "field": p.split(":")[0]}
                    for p in problems
                ],
            )

    def _ensure_namespace(self, namespace: str | None) -> None:
        """A namespace exists once something is put in it (the real API demands it first)."""
        if not namespace:
            return
        key = self._key("", "namespaces", None, namespace)
        if key in self._objects:
            return
        obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace},
            "status": {"phase": "Active"},
        }
        self._stamp(obj, None, None, spec_changed=True)
        self._objects[key] = obj
        self._record("", "namespaces", "ADDED", obj)

    def _next_rv(self) -> int:
        self._last_rv = next(self._rv)
        return self._last_rv

    def _stamp(
        self,
        obj: dict[str, Any],
        existing: dict[str, Any] | None,
        namespace: str | None,
        *,
        spec_changed: bool,
    ) -> None:
        meta = obj.setdefault("metadata", {})
        if namespace:
            meta["namespace"] = namespace
        if existing is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
            meta["generation"] = 1
        else:
            old = existing["metadata"]
            for kept in ("uid", "creationTimestamp", "deletionTimestamp"):
                if kept in old:
                    meta[kept] = old[kept]
            meta["generation"] = int(old.get("generation", 1)) + (1 if spec_changed else 0)
        meta["resourceVersion"] = str(self._next_rv())

    def _record(self, group: str, plural: str, type_: str, obj: dict[str, Any]) -> None:
        self._history.append(_Event(self._last_rv, (group, plural), type_, copy.deepcopy(obj)))
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        for watcher in list(self._watchers):
            watcher.woken.set()

    async def _watch(self, request: web.Request, parsed: ApiRequest) -> web.StreamResponse:
        resource = self._resources[(parsed.group, parsed.plural)]
        query = request.query
        timeout = float(query.get("timeoutSeconds", "1800"))
        since = query.get("resourceVersion", "")
        labels, fields = query.get("labelSelector", ""), query.get("fieldSelector", "")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        watcher = _Watcher()
        self._watchers.add(watcher)
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            with self._lock:
                if since in ("", "0"):
                    initial = [
                        _Event(0, (resource.group, resource.plural), "ADDED", obj)
                        for obj in self._matching(resource, parsed.namespace, query)
                    ]
                    position = self._last_rv
                else:
                    position = int(since)
                    oldest = self._history[0].rv if self._history else self._last_rv + 1
                    if position < oldest - 1 and position < self._last_rv:
                        gone = ApiError(410, "Expired", f"too old resource version: {since}")
                        await _send(response, {"type": "ERROR", "object": gone.status()})
                        return response
                    initial = []
            for event in initial:
                await _send(response, self._event_body(event, parsed))
            while not self._stopping:
                watcher.woken.clear()
                with self._lock:
                    fresh = [e for e in self._history if e.rv > position]
                for event in fresh:
                    position = event.rv
                    if event.key != (resource.group, resource.plural):
                        continue
                    ns = event.obj["metadata"].get("namespace", "")
                    if parsed.namespace and ns != parsed.namespace:
                        continue
                    if _selected(event.obj, labels, fields):
                        await _send(response, self._event_body(event, parsed))
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(watcher.woken.wait(), remaining)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._watchers.discard(watcher)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    def _event_body(self, event: _Event, parsed: ApiRequest) -> dict[str, Any]:
        return {
            "type": event.type,
            "object": self._present(event.obj, parsed.group, parsed.version),
        }


async def _send(response: web.StreamResponse, event: dict[str, Any]) -> None:
    await response.write(json.dumps(event).encode() + b"\n")


def _qualified(resource: ServedResource) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def _selected(obj: Mapping[str, Any], labels: str, fields: str) -> bool:
    meta = obj.get("metadata") or {}
    if labels and not label_selector_matches(labels, meta.get("labels") or {}):
        return False
    for requirement in filter(None, (part.strip() for part in fields.split(","))):
        negate = "!=" in requirement
        path, _, wanted = requirement.replace("!=", "=").replace("==", "=").partition("=")
        node: Any = obj
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if (str(node) == wanted) == negate:
            return False
    return True


def _without(obj: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in keys and key != "apiVersion"}


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
