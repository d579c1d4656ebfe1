"""Starting and stopping the operator's parts, in the order that keeps two replicas apart.

1. the probe/metrics server and the REST API + dashboard (every replica serves them: the API
   only reads the store and records operations, which the leader then acts on);
2. with leader election, wait for the Lease, then keep renewing it;
3. kopf (in this process and event loop) watches Rollouts and feeds the drivers.

Stopping, for whatever reason (SIGTERM, kopf failing, the Lease lost), cancels the drivers
first (a reconcile cut short is repeated by the next leader: every step is idempotent), then
stops kopf and only then releases the Lease. A lost Lease ends the process with exit code 1 so
the pod restarts as a standby; it never keeps acting without the Lease.

kopf cancels, when it stops, every task created after it started; so everything this module
owns (servers, the Lease renewal, the stop waiter) is started before kopf.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import kopf

from serinus.adapters.kube.client import KubeClient
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.auth import AuthConfig
from serinus.entrypoints.api.cluster import operator_access
from serinus.entrypoints.api.directory import KubeDirectory
from serinus.entrypoints.api.server import background
from serinus.entrypoints.operator.drivers import Drivers, DriverSettings
from serinus.entrypoints.operator.handlers import registry_for
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
    auth: AuthConfig = field(default_factory=AuthConfig)
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
        drivers = Drivers(client, config.drivers)
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
        # Kubernetes identity (TokenReview, SubjectAccessReview) unless a tokens file names users.
        access = operator_access(client, config.auth)
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
    kopf_stop = asyncio.Event()
    watching = asyncio.create_task(
        kopf.operator(
            registry=registry_for(drivers, config.kubeconfig, config.context),
            standalone=True,
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            settings=kopf_settings(),
            stop_flag=kopf_stop,
        ),
        name="kopf",
    )
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
            log.error("kopf stopped: %s", failure)
            code = 1
    await drivers.close()
    kopf_stop.set()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(watching, timeout=15)
    for task in (stopping, counting, holding):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    return code


def kopf_settings() -> kopf.OperatorSettings:
    """kopf watches only what it is told to: the Rollouts of the given namespaces.

    Without this, kopf lists and watches Namespaces (to match patterns) and CRDs (to follow
    CRD changes), which the chart's RBAC does not grant in the namespaced mode: kopf then
    retries for about a minute before it serves any Rollout. serinus names its namespaces
    exactly and its CRD is installed with the chart, so neither observation is needed.
    """
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    return settings


async def _count(drivers: Drivers, state: OperatorState) -> None:
    while True:
        state.rollouts.set(len(drivers))
        await asyncio.sleep(1.0)


def _stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT stop the operator while it waits for the Lease (kopf has its own later)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
