"""The local mode as the CLI sees it: where state lives and how to open the store.

Imports of the store and the settings wait until a command needs them, so commands that never
touch the local state (lint, shift, analyze) do not pay for them; nothing here imports typer or
rich, so the fast path for operations (`fast_path`) shares these functions.
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from serinus.core.errors import SerinusError

if TYPE_CHECKING:
    from serinus.adapters.stores.sqlite import SqliteStateStore
    from serinus.app.settings import LocalSettings
    from serinus.core.ports import StateStore
    from serinus.entrypoints.cli.cluster import ClusterTarget

T = TypeVar("T")

_state_dir: list[Path | None] = [None]
_settings: list[LocalSettings] = []


def configure(state_dir: Path | None) -> None:
    _state_dir[0] = state_dir
    _settings.clear()


def settings() -> LocalSettings:
    if not _settings:
        from serinus.app.settings import LocalSettings, default_state_dir

        _settings.append(LocalSettings(_state_dir[0] or default_state_dir()))
    return _settings[0]


@asynccontextmanager
async def opened_store() -> AsyncIterator[SqliteStateStore]:
    from serinus.adapters.stores.sqlite import SqliteStateStore

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
    from serinus.entrypoints.cli.cluster import require_kubernetes_extra

    require_kubernetes_extra()
    from serinus.adapters.kube.client import KubeClient
    from serinus.adapters.stores.kubernetes import KubernetesStateStore

    client = KubeClient.auto(cluster.kubeconfig, cluster.context)
    async with KubernetesStateStore(client, cluster.namespace, owns_client=True) as store:
        yield store


def driver_of(name: str) -> int | None:
    """The pid of the `serinus run` driving `name` in the local mode, or None."""
    from serinus.app.driver_lock import DriverLock

    return DriverLock.holder(settings().rollout_dir(name))


def run_async(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; serinus errors become a clear message and exit code 1."""
    import asyncio

    try:
        return asyncio.run(_call(work))
    except SerinusError as exc:
        from serinus.entrypoints.cli.output import fail

        fail(str(exc))


async def _call(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


def actor() -> str:
    try:
        return getpass.getuser()
    except OSError:
        return "unknown"
