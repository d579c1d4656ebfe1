"""Web metric headers from secret references: resolved per request, never kept or shown."""

from __future__ import annotations

import pytest

from serinus.app.notifications import EnvSecretResolver
from serinus.app.secret_headers import SecretHeaders
from serinus.core.analysis.spec import WebSource
from serinus.core.errors import MetricsError

API_KEY = "sk-live-0123456789abcdef"


class Recording:
    def __init__(self) -> None:
        self.sources: list[WebSource] = []

    async def measure(self, source: WebSource) -> list[float]:
        self.sources.append(source)
        return [1.0]


def source(value_from: dict[str, object]) -> WebSource:
    return WebSource.model_validate(
        {
            "url": "http://metrics.example/ratio",
            "headers": [
                {"key": "Accept", "value": "application/json"},
                {"key": "X-Api-Key", "valueFrom": value_from},
            ],
        }
    )


async def test_the_request_gets_the_value_and_the_spec_keeps_the_reference() -> None:
    inner = Recording()
    provider = SecretHeaders(inner, EnvSecretResolver({"METRICS_KEY": API_KEY}), namespace="")
    spec = source({"env": "METRICS_KEY"})
    assert await provider.measure(spec) == [1.0]
    [sent] = inner.sources
    assert [(h.key, h.value) for h in sent.headers] == [
        ("Accept", "application/json"),
        ("X-Api-Key", API_KEY),
    ]
    assert API_KEY not in spec.model_dump_json()  # the source the status derives from


async def test_a_missing_secret_is_an_error_naming_the_reference_and_nothing_is_sent() -> None:
    inner = Recording()
    provider = SecretHeaders(inner, EnvSecretResolver({}), namespace="")
    with pytest.raises(MetricsError, match=r"headers\[1\] \(X-Api-Key\)\.valueFrom: env METRICS"):
        await provider.measure(source({"env": "METRICS_KEY"}))
    assert inner.sources == []


def test_a_header_has_a_value_or_a_reference_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        header = {"key": "K", "value": "v", "valueFrom": {"env": "E"}}
        WebSource.model_validate({"url": "http://m/x", "headers": [header]})
