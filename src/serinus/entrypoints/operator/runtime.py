"""Starting and stopping the operator's parts, in the order that keeps two replicas apart.

1. the probe/metrics server and the REST API + dashboard (every replica serves them: the API
   only reads the store and records operations, which the leader then acts on);
2. with leader election, wait for the Lease, then keep renewing it;
3. the drivers watch the Rollouts into the client's watch cache (drivers.py) and drive them.

Stopping, for whatever reason (SIGTERM, the server refusing the Rollout watch, the Lease lost),
cancels the drivers and the watch first (a reconcile cut short is repeated by the next leader:
every step is idempotent), and only then releases the Lease. A lost Lease ends the process with
exit code 1 so the pod restarts as a standby; it never keeps acting without the Lease.

Why not kopf: its watcher holds every event back for a batch window (0.1 s) before handing it on,
which alone exceeded the abort latency goal, and a second watch of the same Rollouts (kopf's and
the cache's) doubled the decoding of every status write; the cache's informer is the one watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.reviews import Reviews
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.access import Access, TokensAccess
from serinus.entrypoints.api.directory import KubeDirectory
from serinus.entrypoints.api.kube_access import KubernetesAccess
from serinus.entrypoints.api.server import background
from serinus.entrypoints.operator.drivers import Drivers, DriverSettings
from serinus.entrypoints.operator.health import OperatorState, health_app
from serinus.entrypoints.operator.leadership import LeadershipLost, LeaseElector, LeaseTiming

log = logging.getLogger("serinus.operator")


@dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...]  # empty: every namespace
    identity: str
    drivers: DriverSettings
    leader_election: bool = True
    lease_name: str = "serinus-operator"
    lease_namespace: str | None = None  # default: the client's namespace
    lease_timing: LeaseTiming = field(default_factory=LeaseTiming)
    bind: str = "0.0.0.0"
    metrics_port: int | None = 8080
    api_port: int | None = 8686
    api_namespace: str | None = None  # default: the one watched namespace, else the client's
    # The tokens file's users, re-read when it changes (TokensAccess.watching); None: callers
    # bring Kubernetes bearer tokens (TokenReview) and RBAC decides (SubjectAccessReview).
    tokens: TokensAccess | None = None
    kubeconfig: Path | None = None
    context: str | None = None


async def run_operator(config: OperatorConfig, stop: asyncio.Event | None = None) -> int:
    """Run until stopped; returns the process's exit code (1 when leadership was lost)."""
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    state = OperatorState()
    client = KubeClient.auto(config.kubeconfig, config.context)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(client.close)
        await _serve(stack, config, client, state)
        holding: asyncio.Task[None] | None = None
        if config.leader_election:
            elector = LeaseElector(
                client,
                config.lease_namespace or client.default_namespace,
                config.lease_name,
                config.identity,
                config.lease_timing,
            )
            if not await elector.acquire(stop):
                return 0
            stack.push_async_callback(elector.release)
            holding = asyncio.create_task(elector.hold(), name="lease renewal")
        state.leader.set(1)
        stack.callback(state.leader.set, 0)
        drivers = Drivers(client, config.drivers, cluster_wide=not config.namespaces)
        stack.push_async_callback(drivers.close)
        return await _watch(config, drivers, state, stop, holding)
    raise AssertionError("unreachable")  # pragma: no cover (mypy: the stack never swallows)


async def _serve(
    stack: AsyncExitStack, config: OperatorConfig, client: KubeClient, state: OperatorState
) -> None:
    if config.metrics_port is not None:
        url = await stack.enter_async_context(
            background(health_app(state), config.bind, config.metrics_port)
        )
        log.info("probes and metrics on %shealthz and %smetrics", url, url)
    if config.api_port is not None:
        namespace = config.api_namespace or (
            config.namespaces[0] if len(config.namespaces) == 1 else client.default_namespace
        )
        # Every namespace the operator watches (watching all: every one holding a Rollout),
        # unless --api-namespace names one.
        shown = (config.api_namespace,) if config.api_namespace else config.namespaces
        directory = KubeDirectory(client, shown, namespace)
        access: Access = config.tokens or KubernetesAccess(Reviews(client))
        api = create_app(
            directory.store(None),
            access,
            intent_key=config.drivers.intent_key,
            directory=directory,
        )
        url = await stack.enter_async_context(background(api, config.bind, config.api_port))
        log.info(
            "API and dashboard on %s (rollouts of %s; callers from %s)",
            url,
            ", ".join(shown) or "every namespace",
            access.describe(),
        )


async def _watch(
    config: OperatorConfig,
    drivers: Drivers,
    state: OperatorState,
    stop: asyncio.Event,
    holding: asyncio.Task[None] | None,
) -> int:
    stopping = asyncio.create_task(stop.wait(), name="stop requested")
    counting = asyncio.create_task(_count(drivers, state), name="count rollouts")
    watching = asyncio.create_task(drivers.watch(config.namespaces), name="rollout watch")
    where = ", ".join(config.namespaces) or "every namespace"
    log.info("operator %s watching rollouts in %s", config.identity, where)
    waiting = {stopping, watching} | ({holding} if holding else set())
    done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if holding is not None and holding in done:
        ended = None if holding.cancelled() else holding.exception()
        problem = ended if ended is not None else LeadershipLost("lease renewal ended")
        log.error("leadership lost: %s; stopping every rollout driver now", problem)
        state.fail(f"leadership lost: {problem}")
        await drivers.close()  # before anything else: another replica may lead soon
        code = 1
    if watching in done and not stop.is_set():
        failure = None if watching.cancelled() else watching.exception()
        if failure is not None:
            log.error("cannot watch rollouts: %s", failure)
            state.fail(f"cannot watch rollouts: {failure}")
            code = 1
    await drivers.close()
    for task in (stopping, counting, watching, holding):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    return code


async def _count(drivers: Drivers, state: OperatorState) -> None:
    while True:
        state.rollouts.set(len(drivers))
        await asyncio.sleep(1.0)


def _stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT stop the operator, whatever it is doing (waiting for the Lease included)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
