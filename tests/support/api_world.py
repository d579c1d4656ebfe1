"""API tests: an API over an in-memory store holding rollouts in chosen phases, users per role."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app.metrics import SerinusMetrics
from serinus.core.documents import validate_model
from serinus.core.events import Event, EventType
from serinus.core.spec import Rollout
from serinus.core.status import Phase, Revision, RollbackWindowState, RolloutStatus
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.auth import AuthConfig, FailureThrottle, UserEntry, hash_token
from serinus.entrypoints.api.context import FailureSource

TOKENS = {
    "vera": "vera-viewer-token-0123456789",
    "dan": "dan-deployer-token-0123456789",
    "ann": "ann-approver-token-0123456789",
    "sre": "sre-lead-token-0123456789abcd",
}
ROLES = {
    "vera": ["viewer"],
    "dan": ["deployer"],
    "ann": ["approver"],
    "sre": ["approver", "deployer", "sre-lead"],
}
INSTRUCTIONS = (
    "Check [Grafana](https://grafana.example/d/web?var-version={{ canary.version }}) "
    "<script>window.pwned = 1</script> and [x](javascript:alert(1))\n\n- **latency** `p99`"
)


def users() -> list[UserEntry]:
    return [
        UserEntry(name=name, roles=ROLES[name], tokens=[hash_token(token)])
        for name, token in TOKENS.items()
    ]


def auth_header(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[user]}"}


def rollout(name: str, steps: list[dict[str, Any]], version: str = "v2") -> Rollout:
    return validate_model(
        Rollout,
        {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name},
            "spec": {
                "version": version,
                "workload": {
                    "process": {
                        "command": ["app", "{port}"],
                        "replicas": 2,
                        "env": {"DB_PASSWORD": "hunter2-secret-value"},
                    }
                },
                "trafficRouting": {"haproxy": {}},
                "strategy": {"blueGreenCanary": {"steps": steps}},
            },
        },
        "test",
    )


JUDGED_STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {
        "judgement": {
            "instructions": INSTRUCTIONS,
            "inputs": [
                {"name": "ticket", "required": True},
                {"name": "risk", "options": ["low", "high"]},
            ],
        }
    },
    {"setWeight": 100},
]
GATED_STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"judgement": {"instructions": "SRE lead only", "requiredRoles": ["sre-lead"]}},
]


# What a client saw of the seeded rollouts awaiting a judgement (revision 0, step index 1).
SEEN = {"revision": 0, "step": 1}


def in_progress(phase: Phase, step: int, **extra: Any) -> RolloutStatus:
    return RolloutStatus(
        phase=phase,
        stable=Revision(version="v1", color="blue"),
        canary=Revision(version="v2", color="green"),
        step_index=step,
        phase_since=1000.0,
        weights={"blue": 90, "green": 10},
        replicas={"blue": 2, "green": 2},
        ready={"blue": 2, "green": 1},
        **extra,
    )


BLUE_V1, GREEN_V2 = Revision(version="v1", color="blue"), Revision(version="v2", color="green")


def previewing(at: float = 1000.0) -> RolloutStatus:
    """A blue-green rollout of 3 replicas paused on its preview: v2 (green) at full size, no
    user traffic."""
    return RolloutStatus(
        phase=Phase.PAUSED,
        stable=BLUE_V1,
        canary=GREEN_V2,
        step_index=0,
        phase_since=at,
        step_started_at=at,
        weights={"blue": 100, "green": 0},
        replicas={"blue": 3, "green": 3},
        ready={"blue": 3, "green": 3},
        preview="green",
    )


def kept_after_completion(at: float, until: float) -> RolloutStatus:
    """v2 completed; a rollback window keeps v1 (blue) at 1 of 3 replicas until `until`."""
    return RolloutStatus(
        phase=Phase.COMPLETED,
        stable=GREEN_V2,
        step_index=1,
        phase_since=at,
        weights={"green": 100, "blue": 0},
        replicas={"green": 3, "blue": 1},
        ready={"green": 3, "blue": 1},
        previous_version="v1",
        rollback_window=RollbackWindowState(color="blue", version="v1", replicas=1, until=until),
    )


@dataclass
class Api:
    app: FastAPI
    store: MemoryStateStore
    client: httpx.AsyncClient
    metrics: SerinusMetrics
    throttle: FailureThrottle

    async def get(self, path: str, user: str | None = "vera", **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers=auth_header(user) if user else {}, **kw)

    async def post(
        self, path: str, body: Any = None, user: str | None = "dan", **kw: Any
    ) -> httpx.Response:
        headers = auth_header(user) if user else {}
        return await self.client.post(path, json=body, headers=headers, **kw)


async def seed(store: MemoryStateStore) -> None:
    """`judged`: awaiting a judgement with inputs; `gated`: one needing sre-lead; `paused`: a
    user pause; `aborted`: can be retried; `done`: completed with a previous version."""
    specs = {
        "judged": (rollout("judged", JUDGED_STEPS), in_progress(Phase.AWAITING_JUDGEMENT, 1)),
        "gated": (rollout("gated", GATED_STEPS), in_progress(Phase.AWAITING_JUDGEMENT, 1)),
        "paused": (
            rollout("paused", [{"setWeight": 10}, {"pause": {}}]),
            in_progress(Phase.PAUSED, 1, paused_by_user=True),
        ),
        "aborted": (rollout("aborted", [{"setWeight": 10}]), in_progress(Phase.ABORTED, 0)),
        "done": (
            rollout("done", [{"setWeight": 10}]),
            RolloutStatus(
                phase=Phase.COMPLETED,
                stable=Revision(version="v2", color="green"),
                weights={"green": 100},
                previous_version="v1",
                step_index=1,
            ),
        ),
    }
    for spec, status in specs.values():
        await store.submit(spec)
        events = [
            Event(type=EventType.ROLLOUT_STARTED, message="v2 started", at=990.0),
            Event(
                type=EventType.WEIGHTS_CHANGED,
                message="v2 10% / v1 90%",
                at=995.0,
                data={"weights": {"v2": 10, "v1": 90}},
            ),
        ]
        await store.save(spec.name, status, events, [])
    await store.submit(rollout("fresh", [{"setWeight": 10}]))  # submitted, never reconciled


def client_of(app: FastAPI, address: str = "192.0.2.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://serinus.test")


@asynccontextmanager
async def serving(
    max_failures: int = 5, failures: FailureSource | None = None
) -> AsyncIterator[Api]:
    store = MemoryStateStore()
    await seed(store)
    metrics = SerinusMetrics()
    throttle = FailureThrottle(max_failures=max_failures, window_seconds=60)
    app = create_app(
        store, AuthConfig(users()), metrics=metrics, throttle=throttle, failures=failures
    )
    async with client_of(app) as client:
        yield Api(app, store, client, metrics, throttle)


async def next_event(lines: AsyncIterator[str]) -> tuple[str, Any]:
    """The next server-sent event of a live stream's lines: (its name, its data)."""
    kind = ""
    async for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            return kind, json.loads(line[6:])
    raise AssertionError("the stream ended")
