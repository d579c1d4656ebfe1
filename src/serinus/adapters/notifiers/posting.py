"""HTTP delivery shared by the HTTP channels: one POST, its failure classified for retry.

Messages never include the request URL (for Slack and Teams the URL is the secret) nor free text
the peer answered (a webhook may point at an internal service, and failures reach logs and the
API): only the status code and either a bare error code (Slack's `no_service`) or a fixed
description.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from serinus.adapters.egress import EgressRefused
from serinus.core.errors import NotifierError

# Statuses where trying again later can succeed; other 4xx mean the request itself is wrong.
RETRYABLE_STATUSES = frozenset({408, 425, 429})
ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")


async def post(
    http: httpx.AsyncClient,
    url: str,
    what: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: httpx.BasicAuth | None = None,
) -> httpx.Response:
    """POST and return a 2xx response; raise NotifierError otherwise (`what` names the peer)."""
    try:
        response = await http.post(
            url,
            json=json,
            content=content,
            data=data,
            headers=headers,
            auth=httpx.USE_CLIENT_DEFAULT if auth is None else auth,
        )
    except EgressRefused as exc:  # nothing was sent; the address will not become allowed
        raise NotifierError(f"{what}: {exc}", retryable=False) from None
    except httpx.HTTPError as exc:
        # Transport failures (refused, reset, timeout) are worth retrying; a malformed URL is not.
        retryable = not isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol)
        raise NotifierError(f"{what}: {type(exc).__name__}: {exc}", retryable=retryable) from exc
    if response.is_success:
        return response
    status = response.status_code
    retryable = status in RETRYABLE_STATUSES or status >= 500
    raise NotifierError(
        f"{what} answered HTTP {status}: {_described(response)}", retryable=retryable
    )


def _error_code(response: httpx.Response) -> str | None:
    """A machine error code the peer gave: a bare token (Slack), a JSON `code` (Twilio's 21211)
    or `error` token; never free text."""
    text = response.text.strip()
    if ERROR_CODE.fullmatch(text):
        return text
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    code, error = document.get("code"), document.get("error")
    if isinstance(code, int) and not isinstance(code, bool):
        return f"code {code}"
    if isinstance(error, str) and ERROR_CODE.fullmatch(error):
        return error
    return None


def _described(response: httpx.Response) -> str:
    code = _error_code(response)
    if code is not None:
        return code
    if response.is_redirect:
        return "redirects are not followed; configure the final URL"
    if response.status_code in (401, 403):
        return "the credentials were refused"
    if response.status_code == 404:
        return "no such endpoint (check the URL)"
    if response.status_code == 429:
        return "rate limited"
    if response.status_code >= 500:
        return "the server failed"
    return "the request was refused"
