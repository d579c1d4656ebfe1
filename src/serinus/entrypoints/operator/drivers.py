"""One driver per Rollout: reconcile with the app Engine when something changed or is due.

The Rollouts are watched into the client's watch cache (adapters/kube/cache.py), which also
serves the store's, platforms' and routers' reads; its listener tells the drivers what changed.
A driver wakes at once when its spec changed (a new generation) or someone recorded an
operation (a new pending intent), when one of its Deployments or pods changed (by the rollout
label) or a routing object it routes (its VirtualService, DestinationRule, HTTPRoute or
Ingress: someone edited the weights by hand), and otherwise at the time the engine asked for (a
timed pause ending), after `poll_seconds` while it progresses, or after `idle_seconds` once
finished (a slow safety resync). The cache tells nobody of the operator's own writes, so they
wake nobody.

A driver keeps one Engine for its rollout and builds a new one (router, platform and metric
providers from the registry) only when the spec's routing or workload changes.
Failures are shown on the Rollout (see reporting.py) and retried with a growing delay.

Nothing a Rollout names is executed here (see app/cluster_policy.py): a spec asking for it is
refused with an `ExecutionNotAllowed` (or `SecretSourceNotAllowed`) condition before any adapter
is built, unless the operator runs with `--allow-author-commands`. Metric providers and
notifications never reach link-local or metadata addresses unless `--egress-allow` admits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from serinus.adapters.egress import EgressGuard
from serinus.adapters.kube.client import KubeClient, Object
from serinus.adapters.kube.resources import (
    DEPLOYMENTS,
    DESTINATION_RULES,
    HTTP_ROUTES,
    INGRESSES,
    PODS,
    SERVICES,
    VIRTUAL_SERVICES,
    Resource,
)
from serinus.adapters.kube.secrets import KubeSecretResolver
from serinus.adapters.platforms.kube_workloads import ROLLOUT_LABEL
from serinus.adapters.stores import rollout_resource as documents
from serinus.adapters.stores.kube_events import EventRecorder
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.app.cluster_policy import cluster_refusals, describe
from serinus.app.engine import Engine, Reconciled
from serinus.app.metrics import record_notification_failure
from serinus.app.notifications import NotificationDispatcher
from serinus.app.registry import (
    AdapterContext,
    build_gates,
    build_platform,
    build_providers,
    build_router,
)
from serinus.core.errors import SerinusError
from serinus.core.events import Event
from serinus.core.ports import SecretResolver
from serinus.core.spec import Rollout
from serinus.entrypoints.operator import dry_run
from serinus.entrypoints.operator.reporting import ErrorReporter
from serinus.entrypoints.operator.wakes import (
    Key,
    Routed,
    RouteIndex,
    WakeSignature,
    routed_objects,
    wake_signature,
)

log = logging.getLogger("serinus.operator")

ROLLOUTS = documents.ROLLOUTS
COMPONENT = "serinus-operator"  # the Events' source

# What a reconcile reads: served from watch caches (the store's three reads of the Rollout
# included; its status write carries the resourceVersion it read and retries on 409). Not
# Secrets (never held in memory longer than a read) nor the charts' ConfigMaps.
ROUTING_OBJECTS = (INGRESSES, VIRTUAL_SERVICES, DESTINATION_RULES, HTTP_ROUTES)
CACHED = (ROLLOUTS, DEPLOYMENTS, PODS, SERVICES, *ROUTING_OBJECTS)


@dataclass(frozen=True)
class DriverSettings:
    state_dir: Path
    poll_seconds: float = 1.0
    # A finished rollout: a spec change, an operation or its workload changing wakes it; this is
    # the safety resync (e.g. someone edited its routing object).
    idle_seconds: float = 600.0
    max_backoff_seconds: float = 30.0
    max_concurrent_reconciles: int = 32
    allow_author_commands: bool = False  # dangerous: Rollout authors run code in the operator
    egress_allow: tuple[str, ...] = ()  # networks/hosts admitted despite being link-local
    # Shared with the API, which seals the intents it records: an unsealed one (written straight
    # into a Rollout's status) keeps only a status writer's rights. See api/cluster.py.
    intent_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)


class CannotRun(Exception):
    """The Rollout cannot be run as written; `reason` names the kind of problem."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def engine_key(rollout: Rollout) -> str:
    """What the router and platform are built from; a change means a new Engine."""
    spec = rollout.spec
    return json.dumps(
        {
            "namespace": rollout.metadata.namespace,
            "routing": spec.traffic_routing.model_dump(mode="json", by_alias=True),
            "workload": spec.workload.model_dump(mode="json", by_alias=True),
        },
        sort_keys=True,
    )


class RolloutDriver:
    def __init__(
        self,
        key: Key,
        client: KubeClient,
        settings: DriverSettings,
        gate: asyncio.Semaphore,
        dispatcher: NotificationDispatcher,
        secrets: SecretResolver,
        egress: EgressGuard,
        routes: Callable[[Key, Iterable[Routed]], None] = lambda key, routed: None,
        events: EventRecorder | None = None,
    ) -> None:
        self.namespace, self.name = key
        self._routes = routes
        self.secrets = secrets
        self.egress = egress
        self.client = client
        self.settings = settings
        self.store = KubernetesStateStore(
            client, self.namespace, component=COMPONENT, events=events
        )
        self.reporter = ErrorReporter(client, self.namespace, self.name)
        self._gate = gate
        self._dispatcher = dispatcher
        self._woken = asyncio.Event()
        self._body: Mapping[str, Any] = {}
        self._signature: WakeSignature | None = None
        self._rollout: Rollout | None = None
        self._engine: Engine | None = None
        self._engine_key: str | None = None
        self._failures = 0
        self._last_wake: float | None = None
        self.reconciles = 0

    def notice(self, body: Mapping[str, Any]) -> None:
        """The latest version of the Rollout, from the watch."""
        self._body = body
        before, self._signature = self._signature, wake_signature(body)
        if self._signature.wakes(before):
            self._woken.set()

    def wake(self) -> None:
        """Something the rollout depends on changed: reconcile now."""
        self._woken.set()

    async def run(self) -> None:
        try:
            while True:
                self._woken.clear()
                delay = await self._cycle()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), timeout=delay)
        finally:
            await self._drop_engine()

    async def _cycle(self) -> float:
        """One reconcile; returns how long to wait before the next one (unless woken)."""
        try:
            async with self._gate:
                result = await self._reconcile()
            if result.error is not None:
                raise CannotRun("ReconcileFailed", result.error)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = exc.reason if isinstance(exc, CannotRun) else type(exc).__name__
            if not isinstance(exc, CannotRun | SerinusError):
                log.exception("%s/%s: reconcile crashed", self.namespace, self.name)
            else:
                log.warning("%s/%s: %s", self.namespace, self.name, exc)
            with contextlib.suppress(SerinusError):
                await self.reporter.report(reason, str(exc))
            self._failures += 1
            backoff = self.settings.poll_seconds * 2 ** min(self._failures - 1, 10)
            return float(min(backoff, self.settings.max_backoff_seconds))
        self._failures = 0
        with contextlib.suppress(SerinusError):
            await self.reporter.clear()
        wake_at = result.decision.wake_at if result.decision is not None else None
        now = time.time()
        # Due in the past and still the same after a reconcile: a measurement is pending (a Job
        # running), so poll instead of spinning.
        pending = wake_at is not None and wake_at == self._last_wake and wake_at <= now
        self._last_wake = wake_at
        if wake_at is not None and not pending:
            return max(0.0, min(self.settings.poll_seconds, wake_at - now))
        if result.status.terminal:
            return self.settings.idle_seconds
        return self.settings.poll_seconds

    async def _reconcile(self) -> Reconciled:
        if dry_run.requested(self._body):  # plan and show it; perform nothing
            await self._drop_engine()
            return await dry_run.show_dry_run(
                self.client,
                self._body,
                allow_author_commands=self.settings.allow_author_commands,
                state_dir=self.settings.state_dir / self.namespace / self.name,
            )
        engine = await self._current_engine()
        self.reconciles += 1
        return await engine.reconcile(self.name)

    async def _current_engine(self) -> Engine:
        try:
            rollout = documents.rollout_of(self._body)
        except ValidationError as exc:
            await self._drop_engine()
            raise CannotRun("InvalidSpec", f"the Rollout's spec cannot be run: {exc}") from exc
        self._rollout = rollout
        allowed = self.settings.allow_author_commands
        refusals = cluster_refusals(rollout, allow_author_commands=allowed)
        if refusals:
            await self._drop_engine()
            raise CannotRun(*describe(refusals))
        key = engine_key(rollout)
        if self._engine is not None and key == self._engine_key:
            return self._engine
        await self._drop_engine()
        context = AdapterContext(
            rollout=rollout,
            state_dir=self.settings.state_dir / self.namespace / self.name,
            kube=self.client,
            allow_commands=allowed,
            secrets=self.secrets,
            egress=self.egress,
            rollout_uid=(self._body.get("metadata") or {}).get("uid"),
        )
        router = build_router(context)
        platform = build_platform(context)
        try:
            await router.prepare()
        except BaseException:
            await router.close()
            await platform.close()
            raise
        self._engine = Engine(
            self.store,
            router,
            platform,
            sinks=[self._notify],
            providers=build_providers(context),
            intent_key=self.settings.intent_key,
            gates=build_gates(context),
        )
        self._engine_key = key
        self._routes((self.namespace, self.name), routed_objects(rollout))
        log.info(
            "%s/%s: driving with %s routing and %s workload",
            self.namespace,
            self.name,
            rollout.spec.traffic_routing.kind,
            rollout.spec.workload.kind,
        )
        return self._engine

    def _notify(self, name: str, events: Sequence[Event]) -> None:
        if self._rollout is not None:
            self._dispatcher.publish(
                name, events, self._rollout.spec.notifications, namespace=self.namespace
            )

    async def _drop_engine(self) -> None:
        engine, self._engine, self._engine_key = self._engine, None, None
        if engine is not None:
            await engine.router.close()
            await engine.platform.close()


class Drivers:
    """The running drivers, one per Rollout seen; started and stopped from watch events."""

    def __init__(
        self, client: KubeClient, settings: DriverSettings, *, cluster_wide: bool = False
    ) -> None:
        """`cluster_wide`: the operator watches every namespace (one informer per kind)."""
        self.client = client
        self.settings = settings
        self.secrets = KubeSecretResolver(client)
        self.egress = EgressGuard.allowing(settings.egress_allow)
        self.dispatcher = NotificationDispatcher(
            resolver=self.secrets, on_failure=record_notification_failure, egress=self.egress
        )
        self._gate = asyncio.Semaphore(settings.max_concurrent_reconciles)
        self.events = EventRecorder(client, COMPONENT)
        self._running: dict[Key, tuple[RolloutDriver, asyncio.Task[None]]] = {}
        self._routes = RouteIndex()
        self._closed = False
        self.cache = client.enable_cache(CACHED, cluster_wide=cluster_wide)
        self.cache.subscribe(self._changed)

    def __len__(self) -> int:
        return len(self._running)

    async def watch(self, namespaces: Sequence[str]) -> None:
        """Watch the Rollouts of `namespaces` (empty: every namespace) and drive each one seen.

        Runs until cancelled; raises the server's refusal if it will not let the operator list
        or watch them (an informer of any other kind falls back to reading from the server).
        """
        scopes: list[str | None] = [*namespaces] if namespaces else [None]
        informers = [self.cache.informer(ROLLOUTS, ns) for ns in scopes]
        waits = [asyncio.ensure_future(i.ended()) for i in informers if i is not None]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        for informer in informers:
            if informer is not None and informer.refusal is not None:
                raise informer.refusal
        raise RuntimeError("the Rollout watch ended")  # pragma: no cover (it retries forever)

    def _changed(self, resource: Resource, kind: str, obj: Object) -> None:
        if resource == ROLLOUTS:
            self.on_event(kind, obj)
            return
        metadata = obj.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "")
        woken = self._routes.routing((resource, namespace, str(metadata.get("name"))))
        owner = (metadata.get("labels") or {}).get(ROLLOUT_LABEL)
        if owner:  # its Deployments, pods and Services carry the rollout's label
            woken.add((namespace, str(owner)))
        for key in woken:
            entry = self._running.get(key)
            if entry is not None:
                entry[0].wake()

    def on_event(self, kind: str | None, body: Mapping[str, Any]) -> None:
        metadata = body.get("metadata") or {}
        key = (str(metadata.get("namespace") or "default"), str(metadata.get("name")))
        if kind == "DELETED" or metadata.get("deletionTimestamp"):
            self.stop(key)
            return
        if self._closed:
            return
        entry = self._running.get(key)
        if entry is None:
            driver = RolloutDriver(
                key,
                self.client,
                self.settings,
                self._gate,
                self.dispatcher,
                self.secrets,
                self.egress,
                self._routes.route,
                self.events,
            )
            task = asyncio.create_task(driver.run(), name=f"rollout {key[0]}/{key[1]}")
            task.add_done_callback(lambda done: self._ended(key, done))
            entry = (driver, task)
            self._running[key] = entry
            log.info("%s/%s: watching", *key)
        entry[0].notice(body)

    def stop(self, key: Key) -> None:
        self._routes.route(key, ())
        entry = self._running.pop(key, None)
        if entry is not None:
            entry[1].cancel()
            log.info("%s/%s: deleted, stopped driving it", *key)

    def _ended(self, key: Key, task: asyncio.Task[None]) -> None:
        if self._running.get(key, (None, None))[1] is task:
            del self._running[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("%s/%s: driver ended: %s", *key, task.exception())

    async def close(self) -> None:
        """Stop every driver now (leadership lost or shutting down); nothing is half-saved."""
        if self._closed:
            return
        self._closed = True
        tasks = [task for _, task in self._running.values()]
        self._running.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.events.close()  # nothing more is written: another replica may lead now
        await self.dispatcher.close(timeout=5.0)
