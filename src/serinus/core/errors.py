"""The error tree every layer raises and every entrypoint reports.

SerinusError
├── InvalidInput          bad spec, CLI argument or API body; nothing was changed
├── NotFound              a rollout, route or object that does not exist
├── Conflict              an operation that does not apply to the rollout's phase
├── PermissionDenied      the caller lacks a role the operation needs (the API's 403)
└── DependencyError       a dependency failed (router, platform, store, metrics)
    ├── RouterError
    ├── PlatformError
    ├── StoreError
    ├── MetricsError      a metric provider could not measure (down, timeout, bad reply)
    ├── NotifierError     a notification channel failed; `retryable` says if a retry may help
    └── KubeError         the Kubernetes API server refused or failed a request
        └── Forbidden     401/403: names the verb, resource and namespace
"""

from __future__ import annotations


class SerinusError(Exception):
    """Base of all errors serinus reports to its users."""


class InvalidInput(SerinusError):
    """Input failed validation; `problems` holds one `path: message` line per problem."""

    def __init__(self, problems: list[str], source: str = "input") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"invalid {source}:\n" + "\n".join(f"  {p}" for p in problems))


class NotFound(SerinusError):
    pass


class Conflict(SerinusError):
    pass


class PermissionDenied(SerinusError):
    """The caller lacks a role the operation needs; the message names it.

    Not to be confused with `Forbidden`, which is the Kubernetes API server refusing serinus
    itself (a dependency failure), not a user being refused by serinus.
    """


class DependencyError(SerinusError):
    pass


class RouterError(DependencyError):
    pass


class PlatformError(DependencyError):
    pass


class StoreError(DependencyError):
    pass


class MetricsError(DependencyError):
    """A metric provider could not take a measurement; the analysis records an Error."""


class NotifierError(DependencyError):
    """A notification channel refused or failed a delivery."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class KubeError(DependencyError):
    """The Kubernetes API server refused or failed a request (`status` is its HTTP status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class Forbidden(KubeError):
    """The API server denied the request (401: credentials rejected; 403: RBAC forbids it)."""
