"""The local mode as the CLI sees it: where state lives and how to open the store."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from serinus.adapters.stores.sqlite import SqliteStateStore
from serinus.app.settings import LocalSettings, default_state_dir
from serinus.core.errors import SerinusError
from serinus.core.ports import StateStore
from serinus.entrypoints.cli.cluster import ClusterTarget
from serinus.entrypoints.cli.output import fail

T = TypeVar("T")

_settings: list[LocalSettings] = []


def configure(state_dir: Path | None) -> None:
    _settings[:] = [LocalSettings(state_dir or default_state_dir())]


def settings() -> LocalSettings:
    if not _settings:
        configure(None)
    return _settings[0]


@asynccontextmanager
async def opened_store() -> AsyncIterator[SqliteStateStore]:
    store = SqliteStateStore(settings().database)
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def opened_store_for(cluster: ClusterTarget | None) -> AsyncIterator[StateStore]:
    """The Kubernetes store of `cluster` (cluster mode), else the local SQLite store."""
    if cluster is None:
        async with opened_store() as local:
            yield local
        return
    from serinus.adapters.kube.client import KubeClient
    from serinus.adapters.stores.kubernetes import KubernetesStateStore

    client = KubeClient.auto(cluster.kubeconfig, cluster.context)
    async with KubernetesStateStore(client, cluster.namespace, owns_client=True) as store:
        yield store


def run_async(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; serinus errors become a clear message and exit code 1."""
    try:
        return asyncio.run(_call(work))
    except SerinusError as exc:
        fail(str(exc))


async def _call(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


def actor() -> str:
    try:
        return getpass.getuser()
    except OSError:
        return "unknown"
