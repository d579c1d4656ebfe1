"""The Prometheus provider's requests and reply parsing, through httpx's MockTransport.

The real-server behaviour is in tests/integration/adapters/metrics/test_prometheus.py.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from serinus.adapters.metrics.prometheus import PrometheusProvider
from serinus.core.analysis.spec import PrometheusSource
from serinus.core.errors import MetricsError


def source(**fields: Any) -> PrometheusSource:
    return PrometheusSource.model_validate(
        {"address": "http://prom:9090/", "query": "up", **fields}
    )


def replying(
    status: int, body: Any, seen: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        content = body if isinstance(body, str) else json.dumps(body)
        return httpx.Response(status, content=content)

    return httpx.MockTransport(handle)


def ok(result_type: str, result: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": result_type, "result": result}}


async def test_instant_vector_gives_one_value_per_series() -> None:
    seen: list[httpx.Request] = []
    reply = ok(
        "vector",
        [
            {"metric": {"color": "blue"}, "value": [1, "0.5"]},
            {"metric": {"color": "green"}, "value": [1, "NaN"]},
        ],
    )
    values = await PrometheusProvider(transport=replying(200, reply, seen)).measure(source())
    assert values[0] == 0.5 and math.isnan(values[1])
    assert seen[0].url.path == "/api/v1/query"
    assert seen[0].url.params["query"] == "up"


async def test_range_query_flattens_every_sample() -> None:
    seen: list[httpx.Request] = []
    reply = ok(
        "matrix",
        [
            {"metric": {}, "values": [[1, "1"], [2, "2"]]},
            {"metric": {}, "values": [[1, "+Inf"]]},
        ],
    )
    provider = PrometheusProvider(transport=replying(200, reply, seen), clock=lambda: 1000.0)
    values = await provider.measure(source(range={"start": "5m", "end": "1m", "step": "15s"}))
    assert values == [1.0, 2.0, math.inf]
    params = seen[0].url.params
    assert seen[0].url.path == "/api/v1/query_range"
    assert (float(params["start"]), float(params["end"]), float(params["step"])) == (
        700.0,
        940.0,
        15.0,
    )


async def test_scalar_and_empty_results() -> None:
    scalar = PrometheusProvider(transport=replying(200, ok("scalar", [1, "3.5"])))
    assert await scalar.measure(source()) == [3.5]
    empty = PrometheusProvider(transport=replying(200, ok("vector", [])))
    assert await empty.measure(source()) == []  # no data: the run logic decides


async def test_bearer_token_and_basic_auth_come_from_the_environment() -> None:
    seen: list[httpx.Request] = []
    transport = replying(200, ok("vector", []), seen)
    provider = PrometheusProvider(environ={"TOKEN": "t0k", "PASS": "pw"}, transport=transport)
    await provider.measure(source(authentication={"bearerTokenFrom": {"env": "TOKEN"}}))
    assert seen[-1].headers["Authorization"] == "Bearer t0k"
    basic = {"basic": {"username": "ann", "passwordFrom": {"env": "PASS"}}}
    await provider.measure(source(authentication=basic))
    assert seen[-1].headers["Authorization"] == httpx.BasicAuth("ann", "pw")._auth_header


async def test_a_missing_secret_names_the_variable_not_a_value() -> None:
    provider = PrometheusProvider(environ={}, transport=replying(200, ok("vector", [])))
    with pytest.raises(MetricsError, match="environment variable TOKEN is not set"):
        await provider.measure(source(authentication={"bearerTokenFrom": {"env": "TOKEN"}}))


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"},
            "HTTP 400, the query failed (bad_data)",
        ),
        (
            400,
            {"status": "error", "errorType": "<script>", "error": "x"},
            "HTTP 400, the query failed",
        ),
        (502, "<html>bad gateway</html>", "HTTP 502, the reply is not a Prometheus API answer"),
        (200, {"status": "success"}, "HTTP 200, the reply has no data"),
        (200, ok("string", [1, "x"]), "the result type holds no numbers"),
        (200, ok("vector", [{"value": [1]}]), "a sample is not a [time, value] pair"),
        (200, ok("vector", [[1, "2"]]), "the result is not a list of series"),
        (200, ok("vector", {"value": [1, "2"]}), "the result is not a list of series"),
        (200, ok("matrix", [{"values": 5}]), "a series has no list of values"),
        (200, ok("vector", [{"value": [1, "high"]}]), "a sample value is not a number"),
    ],
)
async def test_bad_replies_are_metrics_errors(status: int, body: Any, message: str) -> None:
    provider = PrometheusProvider(transport=replying(status, body))
    with pytest.raises(MetricsError) as caught:
        await provider.measure(source())
    assert str(caught.value) == f"prometheus at http://prom:9090: {message}"


async def test_connection_failures_and_timeouts_are_metrics_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(MetricsError, match=r"cannot connect \(ConnectError\)"):
        await PrometheusProvider(transport=httpx.MockTransport(refuse)).measure(source())
    with pytest.raises(MetricsError, match="no answer within 2s"):
        await PrometheusProvider(transport=httpx.MockTransport(slow)).measure(source(timeout="2s"))
