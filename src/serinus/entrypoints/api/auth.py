"""Who is calling the API: bearer tokens from a tokens file, roles, and a brake on guessing.

The tokens file (YAML) lists users; only SHA-256 hashes of their tokens are kept, so the file (or
a leaked copy of it) does not let anyone in:

    users:
      - name: alice
        roles: [viewer, deployer, approver]
        tokens:
          - "sha256:9f86d0..."                # `serinus token hash` prints one
          - {hash: "sha256:2c26b4...", expires: 2026-12-31T00:00:00Z}
    revoked: ["sha256:fcde2b..."]             # refused even if a user still lists it

Roles: `viewer` may read, `deployer` may promote/abort/retry/pause/resume/undo, `approver` may
judge. `deployer` and `approver` include `viewer`. Other role names are allowed: a judgement
step's `requiredRoles` may name them. A role grants verbs (`ROLE_VERBS`), which is what the one
authorization rule (`core.authorization`) asks for; in the cluster, Kubernetes RBAC grants the
same verbs instead (see `kube_access`).

A presented token is hashed and compared with every stored hash with `hmac.compare_digest`, all
of them every time, so the answer time does not depend on how much of a hash matched or which
user it belongs to; the revoked hashes are all compared too. A token past its `expires` time, or
whose hash is under `revoked`, is refused with that reason (`Refused`), never with its user's
name. A client address that presents unknown tokens too often within a minute is refused (429
with Retry-After) until its oldest failure leaves the window.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from serinus.core.errors import InvalidInput

TOKENS_FILE_ENV = "SERINUS_TOKENS_FILE"
HASH_PREFIX = "sha256:"
_HEX = frozenset("0123456789abcdef")


class Role(StrEnum):
    VIEWER = "viewer"
    DEPLOYER = "deployer"
    APPROVER = "approver"


IMPLIED: dict[str, frozenset[str]] = {
    Role.DEPLOYER: frozenset({Role.VIEWER}),
    Role.APPROVER: frozenset({Role.VIEWER}),
}
ROLE_VERBS: dict[str, tuple[str, ...]] = {
    Role.VIEWER: ("get",),
    Role.DEPLOYER: ("promote", "abort", "retry", "pause", "resume", "undo"),
    Role.APPROVER: ("judge",),
}


def hash_token(token: str) -> str:
    """The form a token is stored in: `sha256:<hex>`."""
    return HASH_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def effective_roles(roles: Iterable[str]) -> frozenset[str]:
    granted = set(roles)
    for role in list(granted):
        granted |= IMPLIED.get(role, frozenset())
    return frozenset(granted)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (never holds the token)."""

    name: str
    roles: frozenset[str]  # the tokens file's roles; empty when Kubernetes RBAC decides
    groups: tuple[str, ...] = ()  # Kubernetes groups, when the API server authenticated it
    uid: str = ""

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def verbs(self) -> tuple[str, ...]:
        """The operation verbs the caller's roles grant."""
        granted = {verb for role in self.roles for verb in ROLE_VERBS.get(role, ())}
        return tuple(sorted(granted))


def _stored_hash(token: str) -> str:
    digest = token.removeprefix(HASH_PREFIX)
    if not token.startswith(HASH_PREFIX) or len(digest) != 64 or set(digest) - _HEX:
        # Never echo the value: it may be a plain token pasted by mistake.
        raise ValueError(
            "a token must be stored as its hash 'sha256:<64 lowercase hex>' "
            "(create one with `serinus token hash`), never in plain text"
        )
    return token


StoredHash = Annotated[str, AfterValidator(_stored_hash)]


class StoredToken(BaseModel):
    """One of a user's tokens: its hash and, optionally, when it stops being accepted.

    The file may give just the hash (a token that never expires)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hash: StoredHash
    expires: AwareDatetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_hash(cls, data: Any) -> Any:
        return {"hash": data} if isinstance(data, str) else data

    @field_validator("expires", mode="before")
    @classmethod
    def _with_a_zone(cls, value: Any) -> Any:
        naive = isinstance(value, datetime) and value.tzinfo is None
        if naive or (isinstance(value, date) and not isinstance(value, datetime)):
            # A time without a zone means a different instant on each server.
            raise ValueError("give a time with its zone, e.g. 2026-12-31T00:00:00Z")
        return value

    def stored(self) -> str | dict[str, str]:
        """The form written to the file: the plain hash when it never expires."""
        if self.expires is None:
            return self.hash
        return {"hash": self.hash, "expires": iso_utc(self.expires.timestamp())}


def iso_utc(at: float) -> str:
    """`2026-12-31T00:00:00Z`, the form expiry times are written and shown in."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\s<>&\"']+$")
    roles: list[str] = Field(default_factory=list)
    tokens: list[StoredToken] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _roles_are_names(cls, roles: list[str]) -> list[str]:
        for role in roles:
            if not role or not role.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"invalid role {role!r}: use letters, digits, '-' or '_'")
        return roles


class TokensFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: list[UserEntry] = Field(default_factory=list)
    revoked: list[StoredHash] = Field(default_factory=list)  # refused whoever lists them

    def stored(self) -> dict[str, Any]:
        """The file's content as it is written back (`serinus token add` and `revoke`)."""
        users = [
            {"name": u.name, "roles": u.roles, "tokens": [t.stored() for t in u.tokens]}
            for u in self.users
        ]
        return {"users": users, **({"revoked": self.revoked} if self.revoked else {})}


@dataclass(frozen=True)
class Refused:
    """A token that matches a stored hash but is not accepted: why, never whose it is."""

    reason: Literal["expired", "revoked"]
    message: str  # what the caller is told
    user: str | None  # for the server's log only (None: a revoked hash no user lists)


@dataclass(frozen=True)
class _Credential:
    digest: bytes
    principal: Principal
    expires: float | None  # epoch seconds


class AuthConfig:
    """The users the API knows, by the hashes of their tokens."""

    def __init__(
        self,
        users: Iterable[UserEntry] = (),
        revoked: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        credentials: list[_Credential] = []
        names: set[str] = set()
        problems: list[str] = []
        for index, user in enumerate(users):
            if user.name in names:
                problems.append(f"users[{index}].name: {user.name!r} is listed twice")
            names.add(user.name)
            principal = Principal(user.name, effective_roles(user.roles))
            for token in user.tokens:
                digest = bytes.fromhex(token.hash.removeprefix(HASH_PREFIX))
                expires = token.expires.timestamp() if token.expires is not None else None
                credentials.append(_Credential(digest, principal, expires))
        digests = [c.digest for c in credentials]
        if len(set(digests)) != len(digests):
            problems.append("users: the same token hash is given to more than one entry")
        if problems:
            raise InvalidInput(problems, "tokens file")
        self._credentials = tuple(credentials)
        self._revoked = tuple(bytes.fromhex(h.removeprefix(HASH_PREFIX)) for h in revoked)
        self._clock = clock

    @classmethod
    def from_yaml(
        cls, text: str, source: str = "tokens file", clock: Callable[[], float] = time.time
    ) -> AuthConfig:
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InvalidInput([f"not valid YAML: {exc}"], source) from None
        try:
            parsed = TokensFile.model_validate(data)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                for error in exc.errors(include_input=False)
            ]
            raise InvalidInput(problems, source) from None
        return cls(parsed.users, parsed.revoked, clock)

    @classmethod
    def from_file(cls, path: Path, clock: Callable[[], float] = time.time) -> AuthConfig:
        try:
            text = path.read_text()
        except OSError as exc:
            raise InvalidInput([f"cannot read {path}: {exc.strerror}"], "tokens file") from None
        return cls.from_yaml(text, source=f"tokens file {path}", clock=clock)

    @classmethod
    def from_environment(cls, path: Path | None = None) -> AuthConfig:
        """From `path`, else from the file named by SERINUS_TOKENS_FILE."""
        return cls.from_file(tokens_file_of(path))

    @classmethod
    def single_user(cls, name: str, roles: Iterable[str]) -> tuple[AuthConfig, str]:
        """One user with a fresh token, for a session that prints it (e.g. `serinus demo`)."""
        token = new_token()
        user = UserEntry(name=name, roles=list(roles), tokens=[StoredToken(hash=hash_token(token))])
        return cls([user]), token

    @property
    def users(self) -> list[str]:
        return sorted({c.principal.name for c in self._credentials})

    def authenticate(self, token: str) -> Principal | Refused | None:
        """The token's user; Refused when it expired or was revoked; None when it is unknown."""
        presented = hashlib.sha256(token.encode()).digest()
        found: _Credential | None = None
        for credential in self._credentials:
            # No early exit: every hash is compared, whichever matches.
            if hmac.compare_digest(presented, credential.digest):
                found = credential
        revoked = False
        for digest in self._revoked:
            revoked |= hmac.compare_digest(presented, digest)
        user = found.principal.name if found is not None else None
        if revoked:
            return Refused("revoked", "this token was revoked", user)
        if found is None:
            return None
        if found.expires is not None and self._clock() >= found.expires:
            return Refused("expired", f"this token expired at {iso_utc(found.expires)}", user)
        return found.principal


def tokens_file_of(path: Path | None) -> Path:
    """`path`, else the file named by SERINUS_TOKENS_FILE (InvalidInput naming the option)."""
    chosen = path or (Path(p) if (p := os.environ.get(TOKENS_FILE_ENV)) else None)
    if chosen is None:
        raise InvalidInput(
            [f"--tokens-file: give a tokens file (or set {TOKENS_FILE_ENV}); "
             "create one with `serinus token add NAME --role viewer --file FILE`"],
            "serve",
        )  # fmt: skip
    return chosen


@dataclass
class FailureThrottle:
    """Counts wrong tokens per client address in a sliding window."""

    max_failures: int = 10
    window_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    max_clients: int = 10_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, client: str) -> float | None:
        """Seconds until `client` may try again, or None when it is not throttled."""
        with self._lock:
            recent = self._recent(client)
            if recent is None or len(recent) < self.max_failures:
                return None
            return max(1.0, recent[0] + self.window_seconds - self.clock())

    def failed(self, client: str) -> None:
        with self._lock:
            if client not in self._failures and len(self._failures) >= self.max_clients:
                self._forget_idle()
            recent = self._failures.setdefault(client, deque())
            recent.append(self.clock())
            while len(recent) > self.max_failures:
                recent.popleft()

    def _recent(self, client: str) -> deque[float] | None:
        recent = self._failures.get(client)
        if recent is None:
            return None
        cutoff = self.clock() - self.window_seconds
        while recent and recent[0] <= cutoff:
            recent.popleft()
        if not recent:
            del self._failures[client]
            return None
        return recent

    def _forget_idle(self) -> None:
        for client in list(self._failures):
            self._recent(client)
        if len(self._failures) >= self.max_clients:
            # Under a flood from many addresses, drop the oldest entries rather than grow.
            oldest = sorted(self._failures, key=lambda c: self._failures[c][-1])
            for client in oldest[: len(oldest) // 2]:
                del self._failures[client]
