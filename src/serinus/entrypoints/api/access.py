"""Who calls the API and what they may do: the seam between the API and its identity source.

Two implementations: `TokensAccess` (the tokens file and its roles; `serinus serve`, the demo)
and `KubernetesAccess` (TokenReview and SubjectAccessReview; the operator). Either way the
decision itself is `core.authorization`'s one rule; an Access only says which verbs and
judgement roles the caller holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from serinus.core.authorization import READ, Denial, Needs
from serinus.core.errors import DependencyError, InvalidInput
from serinus.core.intents import Grants
from serinus.core.spec import Rollout
from serinus.entrypoints.api.auth import ROLE_VERBS, AuthConfig, Principal, Refused

log = logging.getLogger("serinus.api")
Signature = tuple[int, int, int, int] | None  # a file's inode, size, mtime and ctime (ns)


class Access(Protocol):
    async def authenticate(self, token: str) -> Principal | Refused | None:
        """The caller a bearer token belongs to; Refused (expired, revoked) or None (unknown)."""
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
    """Users, tokens and roles from a tokens file (see `auth`).

    Made with `watching(path)`, it re-reads the file when it changes (one stat per request: its
    inode, size, mtime and ctime), so a revoked or removed token is refused from the next
    request on, without a restart. A file that becomes unreadable or invalid refuses every
    token (503) until it is fixed: a half-applied revocation must not leave a token working.
    """

    def __init__(self, config: AuthConfig, watched: tuple[Path, Signature] | None = None) -> None:
        self._config = config
        self._path: Path | None = watched[0] if watched is not None else None
        self._seen: Signature = watched[1] if watched is not None else None
        self._broken: str | None = None

    @classmethod
    def watching(cls, path: Path) -> TokensAccess:
        """The users of the file at `path` (InvalidInput now if it is not valid), kept current."""
        seen = _signature(path)  # before reading: an edit in between is read at the next request
        return cls(AuthConfig.from_file(path), (path, seen))

    @property
    def config(self) -> AuthConfig:
        if self._path is None:
            return self._config
        seen = _signature(self._path)
        if seen != self._seen:
            self._seen = seen
            self._reload(self._path)
        if self._broken is not None:
            raise DependencyError(
                "the server's tokens file cannot be used (its log says why): "
                "every token is refused until it is fixed"
            )
        return self._config

    def _reload(self, path: Path) -> None:
        try:
            self._config = AuthConfig.from_file(path)
        except InvalidInput as exc:
            self._broken = str(exc)
            log.error("%s: every token is refused until the file is fixed", exc)
            return
        if self._broken is not None:
            log.info("tokens file %s is valid again", path)
        self._broken = None
        log.info("tokens file %s re-read: %d users", path, len(self._config.users))

    async def authenticate(self, token: str) -> Principal | Refused | None:
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


def _signature(path: Path) -> Signature:
    """What changes when the file is edited or replaced (None: it cannot be read)."""
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


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
