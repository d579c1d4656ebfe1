"""Identity and rights from Kubernetes: the operator's API in the cluster.

A caller presents a Kubernetes bearer token (`kubectl`'s, a ServiceAccount's); the API server
says whose it is (TokenReview) and what they may do (SubjectAccessReview). The verbs are those
of `core.authorization` on `rollouts.serinus.io`, in the Rollout's namespace and for its name
(so a Role's `resourceNames` can restrict them to some rollouts):

    get                     see the rollout, its history, audit and analysis
    promote abort retry pause resume undo     the operations of the same names
    judge                   decide a judgement or an inconclusive analysis
    judge-<role>            hold the judgement role <role> (a step's `requiredRoles`)

A judgement with `requiredRoles: [security]` therefore needs `judge` and `judge-security`.
Answers are cached briefly (`cache_seconds`) per token and per question, so a dashboard polling
every second does not send a review per request; a revoked right takes effect within it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from serinus.adapters.kube.reviews import KubeUser, Reviews, Target
from serinus.core.authorization import READ, Denial, Needs
from serinus.core.intents import Grants
from serinus.core.spec import Rollout
from serinus.entrypoints.api.auth import Principal

ROLE_VERB_PREFIX = "judge-"
MAX_CACHED = 10_000


def role_verb(role: str) -> str:
    """The RBAC verb that grants the judgement role `role`."""
    return ROLE_VERB_PREFIX + role


K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class _Cached(Generic[V]):
    value: V
    until: float


class _Cache(Generic[K, V]):
    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: dict[K, _Cached[V]] = {}

    def get(self, key: K) -> _Cached[V] | None:
        entry = self._entries.get(key)
        if entry is not None and entry.until <= self.clock():
            del self._entries[key]
            return None
        return entry

    def put(self, key: K, value: V) -> V:
        if len(self._entries) >= MAX_CACHED:
            now = self.clock()
            self._entries = {k: e for k, e in self._entries.items() if e.until > now}
            if len(self._entries) >= MAX_CACHED:
                self._entries.clear()
        self._entries[key] = _Cached(value, self.clock() + self.seconds)
        return value


class KubernetesAccess:
    def __init__(
        self,
        reviews: Reviews,
        *,
        cache_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reviews = reviews
        self._users: _Cache[bytes, KubeUser | None] = _Cache(cache_seconds, clock)
        self._answers: _Cache[tuple[str, tuple[str, ...], Target], bool] = _Cache(
            cache_seconds, clock
        )

    async def authenticate(self, token: str) -> Principal | None:
        # Keyed by the token's hash: the cache never holds a usable token.
        key = hashlib.sha256(token.encode()).digest()
        cached = self._users.get(key)
        user = (
            cached.value if cached else self._users.put(key, await self.reviews.authenticate(token))
        )
        if user is None:
            return None
        return Principal(name=user.name, roles=frozenset(), groups=user.groups, uid=user.uid)

    async def grants(self, caller: Principal, rollout: Rollout, needs: Needs) -> Grants:
        namespace, name = rollout.metadata.namespace, rollout.name
        verbs = [v for v in needs.verbs if await self.allowed(caller, Target(v, namespace, name))]
        roles = [
            role
            for role in needs.roles
            if await self.allowed(caller, Target(role_verb(role), namespace, name))
        ]
        return Grants(verbs=tuple(verbs), roles=tuple(roles))

    async def may_read_namespace(self, caller: Principal, namespace: str) -> bool:
        return await self.allowed(caller, Target(READ, namespace))

    async def allowed(self, caller: Principal, target: Target) -> bool:
        key = (caller.name, caller.groups, target)
        cached = self._answers.get(key)
        if cached is not None:
            return cached.value
        user = KubeUser(name=caller.name, uid=caller.uid, groups=caller.groups)
        return self._answers.put(key, await self.reviews.allowed(user, target))

    def explain(self, denied: Denial) -> str:
        verbs = [*denied.verbs, *(role_verb(role) for role in denied.roles)]
        if not verbs:
            return ""
        which = (
            "the verb" if len(verbs) == 1 else ("one of the verbs" if denied.roles else "the verbs")
        )
        return f" (Kubernetes RBAC: {which} {', '.join(verbs)} on rollouts.serinus.io)"

    def describe(self) -> str:
        server = self.reviews.client.connection.server
        return f"Kubernetes TokenReview and SubjectAccessReview ({server})"
