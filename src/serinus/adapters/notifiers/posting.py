"""HTTP delivery shared by the HTTP channels: one POST, its failure classified for retry.

Messages never include the request URL: for Slack and Teams the URL is the secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from serinus.core.errors import NotifierError

# Statuses where trying again later can succeed; other 4xx mean the request itself is wrong.
RETRYABLE_STATUSES = frozenset({408, 425, 429})
DETAIL_CHARS = 200


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
    except httpx.HTTPError as exc:
        # Transport failures (refused, reset, timeout) are worth retrying; a malformed URL is not.
        retryable = not isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol)
        raise NotifierError(f"{what}: {type(exc).__name__}: {exc}", retryable=retryable) from exc
    if response.is_success:
        return response
    detail = " ".join(response.text.split())[:DETAIL_CHARS]
    status = response.status_code
    retryable = status in RETRYABLE_STATUSES or status >= 500
    if response.is_redirect:
        detail = "redirects are not followed; configure the final URL"
    raise NotifierError(f"{what} answered HTTP {status}: {detail}", retryable=retryable)
