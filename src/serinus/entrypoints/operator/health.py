"""The operator's probe and metrics endpoint: /healthz for the kubelet, /metrics for Prometheus.

/metrics serves serinus's rollout metrics (the engine records them in this process) and the
operator's own: whether this replica leads, how many rollouts it drives, its reconciles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import generate_latest

from serinus.app.metrics import CONTENT_TYPE, DEFAULT


@dataclass
class OperatorState:
    """What the probes report; the runtime updates it."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    healthy: bool = True
    problem: str = ""

    def __post_init__(self) -> None:
        self.leader = Gauge(
            "serinus_operator_leader",
            "1 when this replica holds the leader Lease (or runs without leader election).",
            registry=self.registry,
        )
        self.rollouts = Gauge(
            "serinus_operator_rollouts", "Rollouts this replica drives.", registry=self.registry
        )

    def fail(self, problem: str) -> None:
        self.healthy = False
        self.problem = problem


def health_app(state: OperatorState) -> FastAPI:
    app = FastAPI(title="serinus operator probes", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz", response_class=PlainTextResponse)
    async def healthz() -> Response:
        if state.healthy:
            return PlainTextResponse("ok")
        return PlainTextResponse(state.problem or "unhealthy", status_code=503)

    @app.get("/metrics")
    async def metrics() -> Response:
        body = DEFAULT.exposition() + generate_latest(state.registry)
        return Response(body, media_type=CONTENT_TYPE)

    return app
