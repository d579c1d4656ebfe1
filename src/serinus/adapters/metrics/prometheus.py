"""The Prometheus metric provider: instant and range PromQL queries over the HTTP API.

Every sample of every series becomes one value of the result: an instant vector gives one value per
series, a range query every point of every series (series after series), a scalar one value.
Prometheus' "NaN" and "+Inf" samples stay NaN and infinity (the run logic treats NaN as no data).
Secrets (bearer token, basic-auth password) are read from the environment when measuring, so they
never appear in a spec, a status or a message.

Errors carry the address, the HTTP status code and a fixed description, never any part of the
reply: the reply of an arbitrary address must not be readable back through the status, the API
or Kubernetes Events (server-side request forgery with read-back). Prometheus' own `errorType`
is shown only when it is one of the values its API documents. With an `EgressGuard`, link-local
and metadata addresses are refused before anything is sent.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from serinus.adapters.egress import EgressGuard, guarded
from serinus.core.analysis.spec import PrometheusAuthentication, PrometheusSource
from serinus.core.errors import MetricsError


def _secret(environ: Mapping[str, str], variable: str, what: str) -> str:
    value = environ.get(variable)
    if value is None:
        raise MetricsError(f"prometheus {what}: environment variable {variable} is not set")
    return value


def _auth(
    authentication: PrometheusAuthentication | None, environ: Mapping[str, str]
) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    if authentication is None:
        return {}, None
    if authentication.bearer_token_from is not None:
        token = _secret(environ, authentication.bearer_token_from.env, "bearer token")
        return {"Authorization": f"Bearer {token}"}, None
    assert authentication.basic is not None  # exactly one kind, checked by the spec
    password = _secret(environ, authentication.basic.password_from.env, "basic-auth password")
    return {}, httpx.BasicAuth(authentication.basic.username, password)


# The error types of Prometheus' HTTP API (its documentation); anything else is not named.
ERROR_TYPES = frozenset(
    {"bad_data", "timeout", "canceled", "execution", "internal", "unavailable", "not_found"}
)


def _sample(pair: Any, address: str) -> float:
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        raise MetricsError(f"prometheus at {address}: a sample is not a [time, value] pair")
    try:
        return float(pair[1])
    except (TypeError, ValueError) as exc:
        raise MetricsError(f"prometheus at {address}: a sample value is not a number") from exc


def _series(result: Any, key: str, address: str) -> list[Any]:
    if not isinstance(result, list) or not all(isinstance(s, dict) for s in result):
        raise MetricsError(f"prometheus at {address}: the result is not a list of series")
    return [series.get(key) for series in result]


def values_of(data: Mapping[str, Any], address: str) -> list[float]:
    """The numbers of a `data` object of a successful query response."""
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar":
        return [_sample(result, address)]
    if kind == "vector":
        return [_sample(pair, address) for pair in _series(result, "value", address)]
    if kind == "matrix":
        values = _series(result, "values", address)
        if not all(isinstance(v, list) for v in values):
            raise MetricsError(f"prometheus at {address}: a series has no list of values")
        return [_sample(pair, address) for series in values for pair in series]
    raise MetricsError(f"prometheus at {address}: the result type holds no numbers")


class PrometheusProvider:
    """Measures `PrometheusSource`s; `transport` and `clock` are seams for tests."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        egress: EgressGuard | None = None,
    ) -> None:
        self._environ = environ if environ is not None else os.environ
        self._transport = transport
        self._clock = clock
        self._egress = egress

    async def measure(self, source: PrometheusSource) -> list[float]:
        return await self._query(source, None)

    async def measure_together(self, sources: Sequence[PrometheusSource]) -> list[list[float]]:
        """Instant queries, concurrently, all evaluated at one instant (this provider's now).

        Counters read by several queries are then read as of one time, so a scrape that lands
        between two of them cannot make one count run ahead of another.
        """
        if any(source.range is not None for source in sources):
            raise MetricsError("prometheus: range queries cannot be read at one instant")
        at = self._clock()
        return list(await asyncio.gather(*(self._query(source, at) for source in sources)))

    async def _query(self, source: PrometheusSource, at: float | None) -> list[float]:
        headers, auth = _auth(source.authentication, self._environ)
        params: dict[str, str | float] = {"query": source.query}
        if source.range is None:
            path = "/api/v1/query"
            if at is not None:
                params["time"] = at
        else:
            path = "/api/v1/query_range"
            now = self._clock()
            params |= {
                "start": now - source.range.start,
                "end": now - source.range.end,
                "step": source.range.step,
            }
        verify: bool | str = (
            False if source.tls.insecure_skip_verify else (source.tls.ca_file or True)
        )
        address = source.address.rstrip("/")
        try:
            async with httpx.AsyncClient(
                timeout=source.timeout,
                verify=verify,
                transport=guarded(self._egress, self._transport, verify),
                auth=auth,
            ) as client:
                response = await client.get(address + path, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise MetricsError(
                f"prometheus at {address}: no answer within {source.timeout:g}s"
            ) from exc
        except httpx.HTTPError as exc:
            raise MetricsError(
                f"prometheus at {address}: cannot connect ({type(exc).__name__})"
            ) from exc
        return self._parse(response, address)

    @staticmethod
    def _parse(response: httpx.Response, address: str) -> list[float]:
        code = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise MetricsError(
                f"prometheus at {address}: HTTP {code}, the reply is not a Prometheus API answer"
            )
        if body.get("status") != "success":
            error_type = body.get("errorType")
            named = f" ({error_type})" if error_type in ERROR_TYPES else ""
            raise MetricsError(f"prometheus at {address}: HTTP {code}, the query failed{named}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise MetricsError(f"prometheus at {address}: HTTP {code}, the reply has no data")
        return values_of(data, address)
