"""The cluster policy: what a Rollout author may not make the operator execute or read."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from serinus.app.cluster_policy import (
    EXECUTION,
    SECRET_SOURCE,
    cluster_refusals,
    describe,
)
from serinus.app.registry import AdapterContext, build_platform, build_providers, build_router
from serinus.core.analysis.spec import AnalysisTemplate
from serinus.core.errors import InvalidInput
from serinus.core.spec import Rollout

JOB = {
    "spec": {"template": {"spec": {"containers": [{"name": "check", "image": "curl"}]}}},
    "serviceAccountName": "checker",
}


def metric(provider: dict[str, Any]) -> dict[str, Any]:
    return {"name": "check", "successCondition": "result[0] == 1", "provider": provider}


def rollout(
    workload: dict[str, Any] | None = None,
    routing: dict[str, Any] | None = None,
    provider: dict[str, Any] | None = None,
    notifications: dict[str, Any] | None = None,
) -> Rollout:
    steps: list[dict[str, Any]] = [{"setWeight": 50}]
    spec: dict[str, Any] = {
        "version": "v2",
        "workload": workload
        or {
            "deployment": {
                "replicas": 1,
                "selector": {"app": "web"},
                "template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}},
            }
        },
        "strategy": {"canary": {"steps": steps}},
        "trafficRouting": routing or {"istio": {"virtualService": {"name": "web"}}},
    }
    if provider is not None:
        spec["analysisTemplates"] = [{"name": "checks", "metrics": [metric(provider)]}]
        steps.append({"analysis": {"templates": ["checks"]}})
    if notifications is not None:
        spec["notifications"] = notifications
    return Rollout.model_validate(
        {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": spec,
        }
    )


PROCESS = {"process": {"replicas": 1, "command": ["touch", "/tmp/canary"]}}
HELM_BINARY = {"helm": {"chart": "./chart", "helmBinary": "/tmp/evil"}}
HAPROXY_BINARY = {"haproxy": {"binary": "/tmp/evil"}}
COMMAND = {"command": {"command": ["touch", "/tmp/canary"]}}
PROMETHEUS_ENV = {
    "prometheus": {
        "address": "http://prometheus:9090",
        "query": "up",
        "authentication": {"bearerTokenFrom": {"env": "KUBERNETES_TOKEN"}},
    }
}
WEB_ENV = {
    "web": {"url": "http://metrics/x", "headers": [{"key": "X-Key", "valueFrom": {"env": "KEY"}}]}
}
SLACK_ENV = {
    "channels": [{"name": "team", "slack": {"webhookUrlFrom": {"env": "AWS_SECRET_ACCESS_KEY"}}}],
    "subscriptions": [{"channel": "team", "events": ["*"]}],
}


@pytest.mark.parametrize(
    ("spec", "reason", "field"),
    [
        (rollout(workload=PROCESS), EXECUTION, "spec.workload.process"),
        (rollout(workload=HELM_BINARY), EXECUTION, "spec.workload.helm.helmBinary"),
        (rollout(routing=HAPROXY_BINARY), EXECUTION, "spec.trafficRouting.haproxy"),
        (
            rollout(routing={"haproxy": {"adminSocket": "/run/other.sock", "attach": True}}),
            EXECUTION,
            "spec.trafficRouting.haproxy",
        ),
        (
            rollout(provider=COMMAND),
            EXECUTION,
            "spec.analysisTemplates[0].metrics[0].provider.command",
        ),
        (
            rollout(provider=PROMETHEUS_ENV),
            SECRET_SOURCE,
            "spec.analysisTemplates[0].metrics[0].provider.prometheus.authentication"
            ".bearerTokenFrom.env",
        ),
        (
            rollout(provider=WEB_ENV),
            SECRET_SOURCE,
            "spec.analysisTemplates[0].metrics[0].provider.web.headers[0].valueFrom.env",
        ),
        (
            rollout(notifications=SLACK_ENV),
            SECRET_SOURCE,
            "spec.notifications.channels[0].slack.webhookUrlFrom.env",
        ),
    ],
)
def test_each_refusal_names_its_field(spec: Rollout, reason: str, field: str) -> None:
    [refusal] = cluster_refusals(spec)
    assert (refusal.reason, refusal.field) == (reason, field)
    condition_reason, message = describe([refusal])
    assert condition_reason == reason and message.startswith(f"{field}: ")


def test_what_the_cluster_runs_is_not_refused() -> None:
    secret_header = copy.deepcopy(WEB_ENV)
    secret_header["web"]["headers"][0]["valueFrom"] = {"secretKeyRef": {"name": "k", "key": "v"}}
    assert cluster_refusals(rollout(provider={"job": JOB})) == []
    assert cluster_refusals(rollout(provider=secret_header)) == []
    assert cluster_refusals(rollout(routing={"istio": {"virtualService": {"name": "vs"}}})) == []


def test_the_flag_allows_commands_but_never_the_environment() -> None:
    both = rollout(workload=PROCESS, provider=PROMETHEUS_ENV)
    assert {r.reason for r in cluster_refusals(both)} == {EXECUTION, SECRET_SOURCE}
    assert describe(cluster_refusals(both))[0] == EXECUTION  # execution is named first
    allowed = cluster_refusals(both, allow_author_commands=True)
    assert [r.reason for r in allowed] == [SECRET_SOURCE]


def test_an_analysis_template_document_is_checked_too() -> None:
    template = AnalysisTemplate.model_validate(
        {
            "apiVersion": "serinus.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "checks"},
            "spec": {"metrics": [metric(COMMAND)]},
        }
    )
    assert [r.field for r in cluster_refusals(template)] == ["spec.metrics[0].provider.command"]


def test_the_factories_refuse_even_when_nothing_checked_before(tmp_path: Path) -> None:
    cases = [
        (rollout(workload=PROCESS), build_platform, "spec.workload.process"),
        (rollout(workload=HELM_BINARY), build_platform, "spec.workload.helm.helmBinary"),
        (rollout(routing=HAPROXY_BINARY), build_router, "spec.trafficRouting.haproxy.binary"),
        (rollout(routing={"haproxy": {}}), build_router, "spec.trafficRouting.haproxy"),
    ]
    for spec, build, field in cases:
        context = AdapterContext(rollout=spec, state_dir=tmp_path, allow_commands=False)
        with pytest.raises(InvalidInput, match=field.replace(".", r"\.")):
            build(context)  # type: ignore[operator]
    assert not any(tmp_path.iterdir()), "nothing was started or written"


def test_the_cluster_providers_have_no_command_and_a_job() -> None:
    spec = rollout()
    cluster = AdapterContext(rollout=spec, state_dir=Path(), kube=object(), allow_commands=False)
    local = AdapterContext(rollout=spec, state_dir=Path())
    assert sorted(build_providers(cluster)) == ["job", "prometheus", "web"]
    assert sorted(build_providers(local)) == ["command", "prometheus", "web"]
