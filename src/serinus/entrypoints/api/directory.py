"""Which namespaces the API shows, and the store of each.

`serinus serve` and the demo show one store (`SingleStore`). The operator shows every namespace
it watches (`KubeDirectory`): the ones it was given, or, watching all namespaces, every
namespace that holds a Rollout (one cluster-wide list, cached briefly). Requests name a
namespace with `?namespace=`; without one they mean the API's default namespace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.core.errors import NotFound
from serinus.core.ports import StateStore


class Directory(Protocol):
    default: str

    def store(self, namespace: str | None) -> StateStore:
        """The store of `namespace` (None: the default); NotFound for one not shown."""
        ...

    async def namespaces(self) -> list[str]:
        """Every namespace shown, in order."""
        ...


def _not_shown(namespace: str) -> NotFound:
    return NotFound(f"namespace {namespace!r} is not one this API shows")


class SingleStore:
    def __init__(self, store: StateStore, namespace: str = "default") -> None:
        self.default = namespace
        self._store = store

    def store(self, namespace: str | None) -> StateStore:
        if namespace is not None and namespace != self.default:
            raise _not_shown(namespace)
        return self._store

    async def namespaces(self) -> list[str]:
        return [self.default]


class KubeDirectory:
    """The Rollouts of `namespaces` (empty: every namespace) through one client."""

    def __init__(
        self,
        client: KubeClient,
        namespaces: Sequence[str],
        default: str,
        *,
        cache_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.default = default
        self._fixed = tuple(dict.fromkeys(namespaces))
        self._stores: dict[str, KubernetesStateStore] = {}
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._found: tuple[float, list[str]] | None = None

    def store(self, namespace: str | None) -> StateStore:
        chosen = namespace or self.default
        if self._fixed and chosen not in self._fixed:
            raise _not_shown(chosen)
        if chosen not in self._stores:
            self._stores[chosen] = KubernetesStateStore(self.client, chosen)
        return self._stores[chosen]

    async def namespaces(self) -> list[str]:
        if self._fixed:
            return list(self._fixed)
        now = self._clock()
        if self._found is not None and now < self._found[0]:
            return self._found[1]
        listed = await self.client.list(ROLLOUTS, None)
        found = sorted({str(item["metadata"]["namespace"]) for item in listed.items})
        self._found = (now + self._cache_seconds, found)
        return found
