"""HTTP to one API server: authenticated JSON requests and watch streams, errors named.

KubeClient (client.py) says what to read and write; this module carries it. httpcore's pool
looks at every connection it holds on every request and every response (is it idle, expired,
readable: a system call each), so a pool grown to hundreds of connections by concurrent
reconciles made that scan the operator's largest CPU cost (profiled: 47 % of its busy time with
100 Rollouts), and one bounded pool of 48 still 36 % with 500. Requests therefore go round-robin
to a few small pools (each request scans six connections; a request waits for a free one
rather than opening more), and watches, which hold their connection for minutes, get a pool of
their own that no request scans.

Errors name what was attempted: 401/403 -> Forbidden (verb, resource, namespace), 404 ->
NotFound (the object), connection failures -> KubeError (the server).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from serinus.adapters.kube.connection import Connection
from serinus.adapters.kube.errors import error_for
from serinus.adapters.kube.resources import Resource
from serinus.core.errors import KubeError

Object = dict[str, Any]

# httpcore tries `import sniffio` on every request; when it is not installed that is a failed
# search of the whole import path each time (a tenth of the operator's busy time, profiled).
# A None entry makes the import fail at once, as documented for sys.modules.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

# 8 x 6 connections: enough for the operator's concurrent reconciles (32 by default), all kept
# open (reopening a TLS connection costs more than the request); each pool small enough that
# its per-request scan of its connections stays cheap.
REQUEST_POOLS = 8
REQUEST_POOL = httpx.Limits(max_connections=6, max_keepalive_connections=6, keepalive_expiry=120)
# One connection per running watch, however many; nothing else uses this pool.
WATCH_POOL = httpx.Limits(max_connections=None, max_keepalive_connections=0)


class Transport:
    """Requests and watch streams to `connection.server`; close with `close()`."""

    def __init__(
        self,
        connection: Connection,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.connection = connection
        options: dict[str, Any] = {
            "base_url": connection.server,
            "verify": connection.verify,
            "transport": transport,
            "headers": {"Accept": "application/json", "User-Agent": "serinus"},
        }
        # A transport given (tests, the dry run) is shared: one client is enough then.
        pools = REQUEST_POOLS if transport is None else 1
        self._pools = [
            httpx.AsyncClient(timeout=timeout, limits=REQUEST_POOL, **options) for _ in range(pools)
        ]
        self._next = itertools.cycle(self._pools)
        self._watches = httpx.AsyncClient(timeout=timeout, limits=WATCH_POOL, **options)

    async def close(self) -> None:
        for pool in self._pools:
            await pool.aclose()
        await self._watches.aclose()

    def _headers(self) -> dict[str, str]:
        header = self.connection.header()
        return {"Authorization": header} if header else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        verb: str,
        what: str,
        resource: Resource | None = None,
        namespace: str | None = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content_type: str = "application/json",
    ) -> Object:
        """One request; the answer's JSON object, or the error naming `verb` and `what`."""
        headers = self._headers()
        content = None
        if json_body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(json_body).encode()
        try:
            response = await next(self._next).request(
                method, path, params=params, headers=headers, content=content
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise self._error(response, verb, what, resource, namespace)
        try:
            body = response.json()
        except ValueError as exc:
            raise KubeError(
                f"{verb} {what}: the API server {self.connection.server} answered "
                f"HTTP {response.status_code} with a body that is not JSON",
                response.status_code,
            ) from exc
        if not isinstance(body, dict):
            raise KubeError(f"{verb} {what}: expected a JSON object, got {type(body).__name__}")
        return body

    async def stream(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        read_timeout: float,
        what: str,
        resource: Resource,
        namespace: str | None,
    ) -> AsyncIterator[Object]:
        """The JSON objects of a watch, one a line, until the server ends it."""
        try:
            async with self._watches.stream(
                "GET",
                path,
                params=params,
                headers=self._headers(),
                timeout=httpx.Timeout(10.0, read=read_timeout),
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._error(response, "watch", what, resource, namespace)
                async for line in response.aiter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def _error(
        self,
        response: httpx.Response,
        verb: str,
        what: str,
        resource: Resource | None,
        namespace: str | None,
    ) -> Exception:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        return error_for(
            response.status_code,
            body,
            verb=verb,
            what=what,
            resource=resource.qualified if resource else what,
            namespace=namespace if resource is None or resource.namespaced else None,
            server=self.connection.server,
        )

    def _unreachable(self, exc: httpx.TransportError) -> KubeError:
        kind = "timed out talking to" if isinstance(exc, httpx.TimeoutException) else "cannot reach"
        return KubeError(
            f"{kind} the Kubernetes API server {self.connection.server}: "
            f"{type(exc).__name__}: {exc or 'no detail'}"
        )
