"""The FastAPI dependency that authenticates the caller (the Access decides what they may do).

Tokens travel only in the `Authorization: Bearer` header (never cookies, never URLs), so a
cross-site page cannot make a browser send one: the API needs no CSRF token. An expired or
revoked token gets a 401 saying so, and the log says so too, without the token or its hash.
"""

from __future__ import annotations

import logging
import math

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serinus.entrypoints.api.auth import Principal, Refused
from serinus.entrypoints.api.context import ApiContext, api_context

log = logging.getLogger("serinus.api")

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="serinus"'}
INVALID = {"WWW-Authenticate": 'Bearer realm="serinus", error="invalid_token"'}


def client_address(request: Request) -> str:
    # Deliberately not X-Forwarded-For: a client could set it to dodge the throttle. Behind a
    # trusted proxy, run uvicorn with --proxy-headers so `client` is the real address.
    return request.client.host if request.client else "unknown"


# Declares the scheme in the OpenAPI document; the header is parsed below for clearer errors.
BEARER = HTTPBearer(
    auto_error=False,
    description="A token from the serinus tokens file, or (the operator) a Kubernetes bearer "
    "token, checked with a TokenReview.",
)


async def authenticated(
    request: Request,
    context: ApiContext = Depends(api_context),
    _declared: HTTPAuthorizationCredentials | None = Depends(BEARER),
) -> Principal:
    client = client_address(request)
    wait = context.throttle.retry_after(client)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many invalid tokens from this address: try again later",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    token = presented_token(request)
    outcome = await context.access.authenticate(token)
    if outcome is None:
        # Only unknown tokens are guesses: an expired or revoked one matched a stored hash.
        context.throttle.failed(client)
    return accepted(outcome, context, request)


def presented_token(request: Request) -> str:
    """The bearer token of the request (401 when it is missing or malformed)."""
    header = request.headers.get("authorization")
    if not header:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send the header 'Authorization: Bearer <token>'",
            headers=CHALLENGE,
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "malformed Authorization header: expected 'Bearer <token>'",
            headers=CHALLENGE,
        )
    return token


def accepted(
    outcome: Principal | Refused | None, context: ApiContext, request: Request
) -> Principal:
    """The caller, or the 401 that says why the token is not accepted."""
    if isinstance(outcome, Principal):
        return outcome
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, refusal(outcome, context, request), headers=INVALID
    )


def refusal(outcome: Refused | None, context: ApiContext, request: Request) -> str:
    """What the caller of a token that is not accepted is told (expired and revoked: logged)."""
    if outcome is None:
        return f"invalid bearer token: {context.access.describe()} does not accept it"
    owner = f" of {outcome.user}" if outcome.user else ""
    log.warning(
        "401 %s %s: %s token%s from %s",
        request.method,
        request.url.path,
        outcome.reason,
        owner,
        client_address(request),
    )
    return f"{outcome.message}: sign in with a new token"
