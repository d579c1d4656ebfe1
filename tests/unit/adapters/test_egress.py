"""The outbound-address guard: link-local and metadata addresses refused after DNS resolution."""

from __future__ import annotations

import httpx
import pytest

from serinus.adapters.egress import EgressGuard, EgressRefused, guarded
from serinus.adapters.metrics.prometheus import PrometheusProvider
from serinus.adapters.metrics.web import WebProvider
from serinus.app.analysis import advance, default_providers
from serinus.core.analysis.run import MeasurementPhase, start_run
from serinus.core.analysis.spec import AnalysisTemplateSpec, PrometheusSource, WebSource

DNS = {
    "prom.internal": ["10.0.0.7"],
    "rebound.example": ["169.254.169.254"],
    "sneaky.example": ["10.0.0.8", "169.254.10.1"],
    "v6meta.example": ["fd00:ec2::254"],
    "mapped.example": ["::ffff:169.254.169.254"],
    "linklocal6.example": ["fe80::1%eth0"],
    "alibaba.example": ["100.100.100.200"],
}


async def fake_dns(host: str, port: int) -> list[str]:
    if host in DNS:
        return DNS[host]
    if host[0].isdigit() or ":" in host:
        return [host]  # an address resolves to itself
    raise OSError("name or service not known")


def guard(*allow: str) -> EgressGuard:
    return EgressGuard.allowing(allow, resolver=fake_dns)


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("169.254.169.254", "a cloud metadata address"),
        ("169.254.1.2", "a link-local address"),
        ("rebound.example", "a cloud metadata address"),  # a name that points there
        ("sneaky.example", "a link-local address"),  # one bad address among good ones
        ("v6meta.example", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("mapped.example", "a cloud metadata address"),  # IPv4 written as IPv6
        ("linklocal6.example", "a link-local address"),
        ("fe80::abcd", "a link-local address"),
        ("alibaba.example", "a cloud metadata address"),
        ("metadata.google.internal", "a cloud metadata host"),
        ("METADATA.google.internal.", "a cloud metadata host"),
        ("metadata", "a cloud metadata host"),
    ],
)
async def test_link_local_and_metadata_hosts_are_refused(host: str, why: str) -> None:
    with pytest.raises(EgressRefused) as caught:
        await guard().checked_address(host, 80)
    assert why in str(caught.value)


@pytest.mark.parametrize(
    ("host", "address"),
    [("prom.internal", "10.0.0.7"), ("127.0.0.1", "127.0.0.1"), ("2001:db8::1", "2001:db8::1")],
)
async def test_other_hosts_give_the_address_to_connect_to(host: str, address: str) -> None:
    assert await guard().checked_address(host, 80) == address


async def test_an_allowlist_admits_networks_and_names() -> None:
    assert await guard("169.254.10.0/24").checked_address("sneaky.example", 80) == "10.0.0.8"
    assert await guard("169.254.169.254/32").checked_address("169.254.169.254", 80)
    named = guard("metadata.google.internal")
    assert await named.checked_address("metadata.google.internal", 80) == (
        "metadata.google.internal"
    )
    with pytest.raises(EgressRefused):  # the allowlist admits what it names, nothing more
        await guard("169.254.10.0/24").checked_address("rebound.example", 80)


async def test_a_name_that_does_not_resolve_is_refused_without_the_resolvers_text() -> None:
    with pytest.raises(EgressRefused, match=r"cannot resolve nowhere.example \(OSError\)"):
        await guard().checked_address("nowhere.example", 80)


async def test_the_transport_connects_to_the_checked_address_and_keeps_the_name() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=1)

    transport = guarded(guard(), httpx.MockTransport(record), verify=True)
    assert transport is not None
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://prom.internal:9090/api")
    assert seen[0].url == httpx.URL("https://10.0.0.7:9090/api")
    assert seen[0].headers["Host"] == "prom.internal:9090"
    assert seen[0].extensions["sni_hostname"] == "prom.internal"


def test_without_a_guard_the_transport_is_unchanged() -> None:
    inner = httpx.MockTransport(lambda request: httpx.Response(200))
    assert guarded(None, inner, verify=True) is inner
    assert guarded(None, None, verify=True) is None


async def test_providers_with_a_guard_refuse_before_sending_anything() -> None:
    sent: list[httpx.Request] = []
    inner = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200, json=1))
    web = WebProvider(transport=inner, egress=guard())
    prometheus = PrometheusProvider(transport=inner, egress=guard())
    with pytest.raises(EgressRefused, match=r"refused to connect to rebound\.example"):
        await web.measure(WebSource(url="http://rebound.example/latest/meta-data/"))
    with pytest.raises(EgressRefused, match=r"refused to connect to 169\.254\.169\.254"):
        await prometheus.measure(PrometheusSource(address="http://169.254.169.254", query="up"))
    assert sent == []


async def test_the_default_registry_takes_the_guard_and_a_refusal_is_an_error_measurement() -> None:
    providers = default_providers(egress=guard())
    spec = AnalysisTemplateSpec.model_validate(
        {
            "metrics": [
                {
                    "name": "m",
                    "provider": {"web": {"url": "http://169.254.169.254/latest/meta-data/"}},
                    "successCondition": "result[0] > 0",
                }
            ]
        }
    )
    state = await advance(spec, start_run(spec, {}, 0), providers, 0)
    measurement = state.result("m").measurements[0]
    assert measurement.phase is MeasurementPhase.ERROR
    assert "refused to connect to 169.254.169.254: a cloud metadata address" in measurement.message
