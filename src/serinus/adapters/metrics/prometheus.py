"""The Prometheus metric provider: instant and range PromQL queries over the HTTP API.

Every sample of every series becomes one value of the result: an instant vector gives one value per
series, a range query every point of every series (series after series), a scalar one value.
Prometheus' "NaN" and "+Inf" samples stay NaN and infinity (the run logic treats NaN as no data).
Secrets (bearer token, basic-auth password) are read from the environment when measuring, so they
never appear in a spec, a status or a message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

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


def _sample(pair: Any, address: str) -> float:
    try:
        return float(pair[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise MetricsError(f"prometheus at {address}: malformed sample {pair!r}") from exc


def values_of(data: Mapping[str, Any], address: str) -> list[float]:
    """The numbers of a `data` object of a successful query response."""
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar":
        return [_sample(result, address)]
    if kind == "vector" and isinstance(result, list):
        return [_sample(series.get("value"), address) for series in result]
    if kind == "matrix" and isinstance(result, list):
        return [_sample(pair, address) for series in result for pair in series.get("values") or []]
    raise MetricsError(f"prometheus at {address}: result type {kind!r} holds no numbers")


class PrometheusProvider:
    """Measures `PrometheusSource`s; `transport` and `clock` are seams for tests."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._environ = environ if environ is not None else os.environ
        self._transport = transport
        self._clock = clock

    async def measure(self, source: PrometheusSource) -> list[float]:
        headers, auth = _auth(source.authentication, self._environ)
        params: dict[str, str | float] = {"query": source.query}
        if source.range is None:
            path = "/api/v1/query"
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
                timeout=source.timeout, verify=verify, transport=self._transport, auth=auth
            ) as client:
                response = await client.get(address + path, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise MetricsError(
                f"prometheus at {address}: no answer within {source.timeout:g}s"
            ) from exc
        except httpx.HTTPError as exc:
            raise MetricsError(f"prometheus at {address}: {type(exc).__name__}: {exc}") from exc
        return self._parse(response, address)

    @staticmethod
    def _parse(response: httpx.Response, address: str) -> list[float]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise MetricsError(
                f"prometheus at {address}: HTTP {response.status_code}, not a Prometheus "
                f"API reply: {response.text[:200]!r}"
            )
        if body.get("status") != "success":
            raise MetricsError(
                f"prometheus at {address}: HTTP {response.status_code} "
                f"{body.get('errorType', 'error')}: {body.get('error', 'no error message')}"
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise MetricsError(f"prometheus at {address}: the reply has no data")
        return values_of(data, address)
