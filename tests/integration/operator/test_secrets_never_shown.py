"""Secrets flow from Kubernetes Secrets to the one request that needs them, and nowhere else.

The operator drives a rollout whose analysis sends an API key from a Secret (one metric's server
answers, one fails echoing the request's headers back) and whose Slack channel's URL, a secret
itself, points at a receiver that fails echoing its path. Then the Rollout's status, the Events,
the operator's log and the API's answers are searched for the secret values: none holds them,
while the receivers prove each secret was resolved and sent where it belonged.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from api_world import auth_header, client_of, users
from kube_stand_in.kubeapi import KubeApiStandIn
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.operator.world import (
    NAMESPACE,
    deployment_rollout,
    new_version,
    operator,
    rollout_status,
    serve_rollouts,
    until,
    virtual_service,
)

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import EVENTS, SECRETS, VIRTUAL_SERVICES
from serinus.adapters.stores.kubernetes import KubernetesStateStore
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.entrypoints.api import create_app
from serinus.entrypoints.api.auth import AuthConfig

pytestmark = pytest.mark.integration

API_KEY = "sk-live-4f1c2e9a7b3d5f60"
SLACK_TOKEN = "xoxb-slack-token-9e8d7c6b"


class Receivers:
    """The metric endpoints and the Slack webhook, each recording what reached it."""

    def __init__(self) -> None:
        self.metric_keys: list[str] = []
        self.slack_paths: list[str] = []
        self.url = ""

    def app(self) -> web.Application:
        async def good(request: web.Request) -> web.Response:
            self.metric_keys.append(request.headers.get("X-Api-Key", ""))
            return web.json_response({"ratio": 0.01})

        async def leaky(request: web.Request) -> web.Response:
            echoed = json.dumps(dict(request.headers))  # a server that echoes what it got
            return web.Response(status=500, text=f"bad request, you sent {echoed}")

        async def slack(request: web.Request) -> web.Response:
            self.slack_paths.append(request.path)
            return web.Response(status=500, text=f"upstream failed for {request.path}")

        app = web.Application()
        app.router.add_get("/good", good)
        app.router.add_get("/leaky", leaky)
        app.router.add_post("/services/{rest:.*}", slack)
        return app


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    found = Receivers()
    runner = web.AppRunner(found.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}"
    try:
        yield found
    finally:
        await runner.cleanup()


def secret(name: str, key: str, value: str) -> dict[str, Any]:
    encoded = base64.b64encode(value.encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {key: encoded},
    }


def metric(name: str, url: str, **extra: Any) -> dict[str, Any]:
    header = {"key": "X-Api-Key", "valueFrom": {"secretKeyRef": {"name": "metrics", "key": "k"}}}
    return {
        "name": name,
        "successCondition": "result[0] < 0.05",
        "provider": {"web": {"url": url, "jsonPath": "$.ratio", "headers": [header]}},
        **extra,
    }


def secret_rollout(base: str) -> dict[str, Any]:
    rollout = deployment_rollout(
        "web", "1.0", [{"setWeight": 20}, {"analysis": {"templates": ["c"]}}]
    )
    rollout["spec"]["analysisTemplates"] = [
        {
            "name": "c",
            "metrics": [
                metric("good", f"{base}/good"),
                metric("leaky", f"{base}/leaky", dryRun=True, consecutiveErrorLimit=0),
            ],
        }
    ]
    rollout["spec"]["notifications"] = {
        "channels": [
            {
                "name": "team",
                "slack": {"webhookUrlFrom": {"secretKeyRef": {"name": "slack", "key": "url"}}},
            }
        ],
        "subscriptions": [{"channel": "team", "events": ["*"]}],
    }
    return rollout


async def api_answers(kube_client: KubeClient) -> str:
    app = create_app(KubernetesStateStore(kube_client, NAMESPACE), AuthConfig(users()))
    texts = []
    async with client_of(app) as client:
        for path in ("", "/web", "/web/history", "/web/analysis", "/web/audit"):
            answer = await client.get(f"/api/v1/rollouts{path}", headers=auth_header("vera"))
            assert answer.status_code == 200, (path, answer.text)
            texts.append(answer.text)
    return "\n".join(texts)


async def test_secret_values_never_reach_status_events_logs_or_the_api(
    kube_api: KubeApiStandIn, kube_client: KubeClient, receivers: Receivers, tmp_path: Path
) -> None:
    api = kube_api
    assert api.kubeconfig_path is not None
    serve_rollouts(api)
    api.put(VIRTUAL_SERVICES, virtual_service("web", {"host": "web-blue"}))
    slack_url = f"{receivers.url}/services/T000/B000/{SLACK_TOKEN}"
    await kube_client.create(SECRETS, NAMESPACE, secret("metrics", "k", API_KEY))
    await kube_client.create(SECRETS, NAMESPACE, secret("slack", "url", slack_url))
    async with (
        DeploymentController(kube_client, NAMESPACE).running(),
        operator(api.kubeconfig_path, tmp_path / "op", "--log-level", "debug") as running,
    ):
        await kube_client.create(ROLLOUTS, NAMESPACE, secret_rollout(receivers.url))
        await until(
            lambda: rollout_status(api, "web").get("message") == "1.0 is live",
            "1.0",
            log=running.log,
        )
        new_version(api, "web", "1.1")
        await until(
            lambda: rollout_status(api, "web").get("message") == "1.1 is live",
            "1.1 live after its analysis",
            timeout=60,
            log=running.log,
        )
        await until(lambda: len(receivers.slack_paths) >= 2, "notifications attempted")
        answers = await api_answers(kube_client)
    # Each secret went where it belonged...
    assert API_KEY in receivers.metric_keys
    assert any(SLACK_TOKEN in path for path in receivers.slack_paths)
    analysis = rollout_status(api, "web")["serinus"]["analysis"]
    leaky = next(m for m in analysis["metrics"] if m["name"] == "leaky")
    assert leaky["phase"] == "Error", "the echoing server's measurement failed"
    # ...and nowhere else.
    status = json.dumps(api.stored(ROLLOUTS, NAMESPACE, "web"))
    events = json.dumps((await kube_client.list(EVENTS, NAMESPACE)).items)
    log = running.log.read_text()
    assert "1.1" in status and events != "[]" and "default/web" in log and "1.1" in answers
    for where, text in (("status", status), ("events", events), ("log", log), ("API", answers)):
        for value in (API_KEY, SLACK_TOKEN, "T000/B000"):
            assert value not in text, f"{value!r} leaked into the {where}"
