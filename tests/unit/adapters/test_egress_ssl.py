"""One verified SSL context per process: two rollouts' gate callers behind the egress guard
share it (one per rollout was 44% of the operator's CPU taking on 500 Rollouts), while each
rollout keeps its own gate runner (it carries that rollout's own Job provider)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx

from serinus.adapters.egress import EgressGuard, GuardedTransport, guarded, verified_context
from serinus.adapters.gates.http import HttpGateCaller
from serinus.app.registry import AdapterContext, build_gates
from serinus.core.spec import Rollout


def rollout(name: str) -> Rollout:
    return Rollout.model_validate(
        {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {
                "version": "1",
                "workload": {
                    "deployment": {
                        "selector": {"app": name},
                        "template": {"spec": {"containers": [{"name": "w", "image": "w:1"}]}},
                    }
                },
                "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
                "trafficRouting": {"nginx": {"stableIngress": name}},
            },
        }
    )


def context_of(transport: httpx.AsyncBaseTransport | None) -> ssl.SSLContext:
    """The SSL context the guarded transport's connection pool connects with (httpx/httpcore
    keep it privately: this is the object every TLS handshake of the transport uses)."""
    assert isinstance(transport, GuardedTransport)
    inner: Any = transport._inner
    assert isinstance(inner, httpx.AsyncHTTPTransport)
    found = inner._pool._ssl_context
    assert isinstance(found, ssl.SSLContext)
    return found


def test_two_rollouts_gate_callers_share_one_verified_context(tmp_path: Path) -> None:
    guard = EgressGuard()
    runners = [
        build_gates(AdapterContext(rollout=rollout(name), state_dir=tmp_path, egress=guard))
        for name in ("web", "shop")
    ]
    assert runners[0] is not runners[1], "each rollout keeps its own gate runner"
    callers: list[Any] = [runner._caller for runner in runners]
    assert all(isinstance(caller, HttpGateCaller) for caller in callers)
    first, second = (context_of(caller._transport) for caller in callers)
    assert first is second is verified_context()
    assert first.verify_mode is ssl.CERT_REQUIRED and first.check_hostname


def test_a_ca_bundle_or_no_verification_gets_its_own_context() -> None:
    guard = EgressGuard()
    unverified = context_of(guarded(guard, None, verify=False))
    assert unverified is not verified_context()
    assert unverified.verify_mode is ssl.CERT_NONE
    assert context_of(guarded(guard, None, verify=True)) is verified_context()
