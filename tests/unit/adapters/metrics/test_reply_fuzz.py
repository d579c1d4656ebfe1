"""Fuzz: no part of a provider's reply ever reaches a measurement's message (no SSRF read-back).

Replies of every shape (text, JSON of any structure, Prometheus-like documents with wrong
types) carry a token; whatever the provider makes of them - a measurement or an error - the run's
stored state, where the status, the API and Kubernetes Events get their text, never holds it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serinus.adapters.metrics.prometheus import PrometheusProvider
from serinus.adapters.metrics.web import WebProvider
from serinus.app.analysis import advance
from serinus.core.analysis.run import start_run
from serinus.core.analysis.spec import AnalysisTemplateSpec

TOKEN = "Lk9Tq"  # appears in no address, query, path or fixed description

tokened = st.text(max_size=8).map(lambda t: f"{t}{TOKEN}{t}")
leaves = st.one_of(
    tokened,
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.just(TOKEN),
)
documents = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.one_of(tokened, st.sampled_from(["value", "values", "data"])), inner)
    ),
    max_leaves=12,
)
prometheus_like = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["success", "error", TOKEN]),
        "data": st.fixed_dictionaries(
            {
                "resultType": st.sampled_from(["vector", "matrix", "scalar", "string", TOKEN]),
                "result": documents,
            }
        )
        | documents,
    },
    optional={"errorType": st.sampled_from(["bad_data", TOKEN]), "error": tokened},
)
bodies = st.one_of(
    tokened.map(str.encode),
    documents.map(lambda d: json.dumps(d).encode()),
    prometheus_like.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=20).map(lambda b: b + TOKEN.encode() + b),
)
statuses = st.sampled_from([200, 200, 201, 204, 301, 400, 401, 403, 404, 500, 502, 503])


def transport(status: int, body: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, content=body))


def template(provider: dict[str, Any]) -> AnalysisTemplateSpec:
    return AnalysisTemplateSpec.model_validate(
        {"metrics": [{"name": "m", "provider": provider, "successCondition": "result[0] > 0"}]}
    )


async def stored_text(spec: AnalysisTemplateSpec, providers: dict[str, Any]) -> str:
    state = await advance(spec, start_run(spec, {}, 0), providers, 0)
    assert state.result("m").measurements, "the tick took a measurement"
    return json.dumps(state.to_storage())


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(status=statuses, body=bodies)
async def test_no_prometheus_reply_content_reaches_the_status(status: int, body: bytes) -> None:
    spec = template({"prometheus": {"address": "http://prom:9090", "query": "up"}})
    provider = PrometheusProvider(transport=transport(status, body))
    assert TOKEN not in await stored_text(spec, {"prometheus": provider})


@FUZZ
@given(
    status=statuses,
    body=bodies,
    path=st.sampled_from(["$", "$.data", "$.data[*]", "$.value[0]", "$.*.values[*]"]),
)
async def test_no_web_reply_content_reaches_the_status(status: int, body: bytes, path: str) -> None:
    spec = template({"web": {"url": "http://svc/metrics", "jsonPath": path}})
    provider = WebProvider(transport=transport(status, body))
    assert TOKEN not in await stored_text(spec, {"web": provider})
