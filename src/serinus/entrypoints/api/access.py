"""Who calls the API and what they may do: the seam between the API and its identity source.

Two implementations: `TokensAccess` (the tokens file and its roles; `serinus serve`, the demo)
and `KubernetesAccess` (TokenReview and SubjectAccessReview; the operator). Either way the
decision itself is `core.authorization`'s one rule; an Access only says which verbs and
judgement roles the caller holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from serinus.core.authorization import READ, Denial, Needs
from serinus.core.intents import Grants
from serinus.core.spec import Rollout
from serinus.entrypoints.api.auth import ROLE_VERBS, AuthConfig, Principal


class Access(Protocol):
    async def authenticate(self, token: str) -> Principal | None:
        """The caller a bearer token belongs to, or None when it is not valid."""
        ...

    async def grants(self, caller: Principal, rollout: Rollout, needs: Needs) -> Grants:
        """Which of `needs` (verbs, judgement roles) the caller holds on `rollout`."""
        ...

    async def may_read_namespace(self, caller: Principal, namespace: str) -> bool:
        """Whether the caller may `get` every rollout of `namespace` (the list asks this first)."""
        ...

    def explain(self, denied: Denial) -> str:
        """How the caller would get what they lack, appended to a refusal."""
        ...

    def describe(self) -> str:
        """Where identities come from, for the startup log and errors."""
        ...


class TokensAccess:
    """Users, tokens and roles from a tokens file (see `auth`)."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config

    async def authenticate(self, token: str) -> Principal | None:
        return self.config.authenticate(token)

    async def grants(self, caller: Principal, rollout: Rollout, needs: Needs) -> Grants:
        return Grants(verbs=caller.verbs, roles=tuple(sorted(caller.roles)))

    async def may_read_namespace(self, caller: Principal, namespace: str) -> bool:
        return READ in caller.verbs

    def explain(self, denied: Denial) -> str:
        roles = [role for role, verbs in ROLE_VERBS.items() if set(denied.verbs) & set(verbs)]
        if not roles:
            return ""
        return f" (the role {' and '.join(roles)} grants it in the tokens file)"

    def describe(self) -> str:
        count = len(self.config.users)
        return f"tokens file ({count} user{'s' if count != 1 else ''})"


@dataclass(frozen=True)
class CallerAuthority:
    """One caller's rights, in the shape `app.operations.request` asks for."""

    access: Access
    caller: Principal

    async def grants(self, rollout: Rollout, needs: Needs) -> Grants:
        return await self.access.grants(self.caller, rollout, needs)

    def explain(self, denied: Denial) -> str:
        return self.access.explain(denied)


async def may_read(access: Access, caller: Principal, rollout: Rollout) -> bool:
    granted = await access.grants(caller, rollout, Needs(verbs=(READ,), gates=()))
    return granted.verbs is None or READ in granted.verbs
