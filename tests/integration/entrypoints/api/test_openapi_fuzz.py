"""Schemathesis against the served OpenAPI document: generated requests never get a 500, and
every answer matches the documented status codes, content types and schemas."""

from __future__ import annotations

import asyncio

import pytest
import schemathesis
from api_world import auth_header, seed, users
from hypothesis import HealthCheck, settings

from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app.metrics import SerinusMetrics
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.auth import AuthConfig, FailureThrottle

pytestmark = pytest.mark.integration

STORE = MemoryStateStore()
asyncio.run(seed(STORE))  # the memory store binds to no event loop
APP = create_app(
    STORE,
    AuthConfig(users()),
    metrics=SerinusMetrics(),
    # Schemathesis sends wrong tokens on purpose (auth checks); do not lock it out.
    throttle=FailureThrottle(max_failures=1_000_000),
)
# The live stream never ends by design; it has its own tests.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(
    path="/api/v1/rollouts/{name}/events"
)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_generated_requests_with_a_token_holding_every_role(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=auth_header("sre"))
