"""API server answers turned into serinus errors that say what was attempted on what.

KubeError (serinus.core.errors)
├── Forbidden        401 credentials rejected / 403 RBAC: verb, resource, namespace
├── StaleWrite       409 on a write: someone changed the object since it was read
├── AlreadyExists    409 on create
└── Rejected         400/422: the server refused the object (schema, immutable field)
NotFound (serinus.core.errors)   404: names the object (or the resource type)
"""

from __future__ import annotations

from typing import Any

from serinus.core.errors import Forbidden, KubeError, NotFound, SerinusError


class StaleWrite(KubeError):
    """The write carried an old resourceVersion: re-read and compute again."""


class AlreadyExists(KubeError):
    pass


class Rejected(KubeError):
    """The server refused the request body (invalid object, bad patch)."""


def error_for(
    status: int,
    body: Any,
    *,
    verb: str,
    what: str,
    resource: str,
    namespace: str | None,
    server: str,
) -> SerinusError:
    """The error for a failed request.

    `what` describes the target (`virtualservices.networking.istio.io "reviews" in namespace
    "shop"` or `virtualservices.networking.istio.io in namespace "shop"` for collections).
    """
    message = _server_message(body)
    where = f'namespace "{namespace}"' if namespace else "the cluster scope"
    if status == 401:
        return Forbidden(
            f"unauthorized: the API server {server} rejected serinus's credentials "
            f"(trying to {verb} {resource} in {where}): {message}",
            status,
        )
    if status == 403:
        return Forbidden(
            f"forbidden: serinus may not {verb} {resource} in {where} "
            f"(grant the verb {verb!r} on {resource} to its service account): {message}",
            status,
        )
    if status == 404:
        return NotFound(f"{what} not found ({verb}): {message}")
    if status == 409:
        if verb == "create":
            return AlreadyExists(f"{what} already exists: {message}", status)
        return StaleWrite(f"{what} was changed by someone else ({verb}): {message}", status)
    if status in (400, 415, 422):
        return Rejected(f"the API server rejected {verb} of {what}: {message}", status)
    return KubeError(f"{verb} {what} failed with HTTP {status}: {message}", status)


def _server_message(body: Any) -> str:
    if isinstance(body, dict):
        text = str(body.get("message") or body.get("reason") or body)
        causes = (body.get("details") or {}).get("causes") or []
        extra = [
            str(c.get("message", ""))
            for c in causes
            if isinstance(c, dict) and str(c.get("message", "")) not in text
        ]
        return "; ".join([text, *extra]) if extra else text
    return str(body)[:500] if body else "(no message)"
