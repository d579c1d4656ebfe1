"""Flagger `Canary` (flagger.app/v1beta1) and `MetricTemplate` -> serinus Rollout.

Flagger generates the routing objects itself (a VirtualService named after the service, with
`-primary`/`-canary` Services); serinus edits objects that exist, so for Istio the importer also
writes the VirtualService Flagger would have created, routing to serinus's per-color Services.
"""

from __future__ import annotations

from typing import Any

from serinus.app.importing.common import (
    RouterChoice,
    find,
    key,
    metadata_of,
    seconds,
    version_of_image,
)
from serinus.app.importing.report import Report

# Flagger's built-in Istio metrics (its Prometheus queries, with serinus's variables).
_BUILTIN_ISTIO = {
    "request-success-rate": (
        'sum(rate(istio_requests_total{{reporter="destination",'
        'destination_workload_namespace="{namespace}",'
        'destination_workload="{{{{rollout.name}}}}-{{{{canary.color}}}}",'
        'response_code!~"5.*"}}[{interval}])) / '
        'sum(rate(istio_requests_total{{reporter="destination",'
        'destination_workload_namespace="{namespace}",'
        'destination_workload="{{{{rollout.name}}}}-{{{{canary.color}}}}"}}[{interval}])) * 100'
    ),
    "request-duration": (
        "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{{"
        'reporter="destination",destination_workload_namespace="{namespace}",'
        'destination_workload="{{{{rollout.name}}}}-{{{{canary.color}}}}"}}[{interval}])) by (le))'
    ),
}
DEFAULT_PROMETHEUS = "http://prometheus.istio-system:9090"


def convert_canary(
    document: dict[str, Any],
    documents: list[dict[str, Any]],
    report: Report,
    router: RouterChoice | None,
    prometheus: str = DEFAULT_PROMETHEUS,
) -> list[dict[str, Any]]:
    """The serinus Rollout (and, for Istio, the VirtualService it edits); [] when not possible."""
    source = key(document)
    spec = document.get("spec") or {}
    metadata = metadata_of(document)
    name = metadata["name"]
    namespace = metadata.get("namespace", "default")
    target = spec.get("targetRef") or {}
    deployment = find(documents, target.get("kind", "Deployment"), target.get("name", ""))
    if deployment is None:
        report.error(
            source,
            "spec.targetRef",
            f"pass the {target.get('kind', 'Deployment')} {target.get('name')} manifest too: "
            "serinus creates a Deployment per color from its pod template",
        )
        return []
    deployment_spec = deployment.get("spec") or {}
    template = deployment_spec.get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or [{}]
    version = version_of_image(str(containers[0].get("image", ""))) or "imported"
    report.differs(
        source,
        "spec.targetRef",
        f"serinus starts a rollout when spec.version ({version}, from the image tag) changes, "
        "not when the Deployment's pod template changes; change both together",
    )
    service = spec.get("service") or {}
    workload: dict[str, Any] = {
        "replicas": int(deployment_spec.get("replicas") or 1),
        "template": template,
    }
    labels = (deployment_spec.get("selector") or {}).get("matchLabels") or {}
    if labels:
        workload["selector"] = dict(labels)
    if service.get("port"):
        port: dict[str, Any] = {"port": int(service["port"])}
        if service.get("portName"):
            port["name"] = service["portName"]
        if service.get("targetPort") is not None:
            port["targetPort"] = service["targetPort"]
        workload["service"] = {"ports": [port]}
    extra: list[dict[str, Any]] = []
    routing = _routing(spec, name, namespace, service, source, report, router, extra)
    if routing is None:
        return []
    analysis = spec.get("analysis") or {}
    hooks: list[dict[str, Any]] = []
    steps, background, templates = _analysis(
        analysis, documents, namespace, prometheus, source, report, hooks
    )
    strategy: dict[str, Any] = {"steps": steps}
    if hooks:
        strategy["hooks"] = hooks
    if background is not None:
        strategy["analysis"] = background
    out_spec: dict[str, Any] = {
        "version": version,
        "workload": {"deployment": workload},
        "trafficRouting": routing,
        "strategy": {"canary": strategy},
    }
    if templates:
        out_spec["analysisTemplates"] = templates
    if "progressDeadlineSeconds" in spec:
        out_spec["progressDeadlineSeconds"] = float(spec["progressDeadlineSeconds"])
    for field, why in (
        ("autoscalerRef", "serinus sets replicas itself; an HPA is not managed"),
        ("skipAnalysis", "remove the analysis from the serinus rollout instead"),
        ("revertOnDeletion", "serinus delete removes what it created"),
    ):
        if field in spec:
            report.unsupported(source, f"spec.{field}", why)
    report.translated(source, "spec", f"Canary {name}")
    rollout = {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": metadata,
        "spec": out_spec,
    }
    return [rollout, *extra]


def _routing(
    spec: dict[str, Any],
    name: str,
    namespace: str,
    service: dict[str, Any],
    source: str,
    report: Report,
    router: RouterChoice | None,
    extra: list[dict[str, Any]],
) -> dict[str, Any] | None:
    provider = str(spec.get("provider") or "kubernetes")
    service_name = service.get("name") or name
    if provider == "istio":
        extra.append(_virtual_service(service_name, name, namespace, service))
        report.differs(
            source,
            "spec.service",
            f"Flagger generates the VirtualService {service_name}; the import writes it, "
            f"routing to serinus's Services {name}-blue and {name}-green (apply it first)",
        )
        for field in ("trafficPolicy", "corsPolicy", "headers", "retries"):
            if field in service:
                report.unsupported(source, f"spec.service.{field}", "set it in the VirtualService")
        return {"istio": {"virtualService": {"name": service_name, "routes": ["primary"]}}}
    if provider.startswith("gatewayapi"):
        report.differs(
            source,
            "spec.provider",
            f"serinus edits an existing HTTPRoute {service_name}: create it with backendRefs "
            f"{name}-blue and {name}-green",
        )
        return {"gatewayAPI": {"httpRoute": service_name}}
    if provider == "nginx":
        ingress = (spec.get("ingressRef") or {}).get("name")
        if ingress:
            return {"nginx": {"stableIngress": ingress}}
    if router is not None:
        report.unsupported(
            source, "spec.provider", f"{provider} replaced by --router {router.kind}:{router.name}"
        )
        return router.routing()
    report.error(
        source,
        "spec.provider",
        f"serinus cannot route through {provider}; "
        "pass --router istio:VS, gateway-api:ROUTE or nginx:INGRESS",
    )
    return None


def _virtual_service(
    service_name: str, name: str, namespace: str, service: dict[str, Any]
) -> dict[str, Any]:
    route: dict[str, Any] = {
        "name": "primary",
        "route": [
            {"destination": {"host": f"{name}-blue"}, "weight": 100},
            {"destination": {"host": f"{name}-green"}, "weight": 0},
        ],
    }
    for field in ("match", "rewrite", "timeout"):
        if field in service:
            route[field] = service[field]
    vs_spec: dict[str, Any] = {
        "hosts": [service_name, *(service.get("hosts") or [])],
        "http": [route],
    }
    if service.get("gateways"):
        vs_spec["gateways"] = list(service["gateways"])
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": service_name, "namespace": namespace},
        "spec": vs_spec,
    }


def _weights(analysis: dict[str, Any]) -> list[int]:
    if analysis.get("stepWeights"):
        return [int(w) for w in analysis["stepWeights"]]
    step = int(analysis.get("stepWeight") or 0)
    top = int(analysis.get("maxWeight") or 100)
    return list(range(step, top + 1, step)) if step > 0 else []


_HOOK_TYPES = {
    "confirm-rollout": "confirmRollout",
    "pre-rollout": "preRollout",
    "confirm-traffic-increase": "confirmTrafficIncrease",
    "confirm-promotion": "confirmPromotion",
    "post-rollout": "postRollout",
}
_UNMAPPED_HOOKS = {
    "rollout": "Flagger calls it at every analysis interval (load tests); use a web metric or "
    "a webhook step in serinus",
    "rollback": "Flagger polls it and a 2xx starts a rollback; serinus's rollback hook is only "
    "told of an abort: use an analysis metric to abort on a condition",
    "event": "use serinus notifications (a webhook channel) for events",
}


def _hooks(analysis: dict[str, Any], source: str, report: Report) -> list[dict[str, Any]]:
    hooks = []
    for index, hook in enumerate(analysis.get("webhooks") or []):
        path = f"spec.analysis.webhooks[{index}]"
        kind = str(hook.get("type") or "rollout")
        if kind not in _HOOK_TYPES:
            why = _UNMAPPED_HOOKS.get(kind, f"unknown webhook type {kind}")
            report.unsupported(source, path, f"webhook {hook.get('name')} ({kind}): {why}")
            continue
        out: dict[str, Any] = {
            "type": _HOOK_TYPES[kind],
            "name": hook.get("name"),
            "url": hook.get("url"),
        }
        timeout = seconds(hook.get("timeout"))
        if timeout:
            out["timeout"] = timeout
        if hook.get("metadata"):
            out["metadata"] = {str(k): str(v) for k, v in hook["metadata"].items()}
        if hook.get("muteAlert") is not None or hook.get("retries") is not None:
            report.unsupported(source, f"{path}.muteAlert/retries", "not mapped")
        report.differs(
            source,
            path,
            f"webhook {hook.get('name')} becomes a {_HOOK_TYPES[kind]} hook: a POST with a "
            "signed JSON body (not Flagger's payload); confirm hooks hold until a 2xx, "
            "pre-rollout aborts on failure",
        )
        hooks.append(out)
    return hooks


def _analysis(
    analysis: dict[str, Any],
    documents: list[dict[str, Any]],
    namespace: str,
    prometheus: str,
    source: str,
    report: Report,
    hooks: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, list[dict[str, Any]]]:
    interval = seconds(analysis.get("interval")) or 60.0
    steps: list[dict[str, Any]] = []
    for weight in _weights(analysis):
        steps.extend([{"setWeight": weight}, {"pause": {"duration": interval}}])
    if analysis.get("iterations") or analysis.get("match"):
        report.unsupported(
            source,
            "spec.analysis.iterations/match",
            "A/B testing and Flagger's blue/green iterations: use setHeaderRoute steps or the "
            "blueGreen strategy",
        )
    if steps:
        report.translated(
            source,
            "spec.analysis.stepWeight/maxWeight",
            f"{len(steps) // 2} setWeight steps with a {interval:g}s pause each",
        )
    threshold = int(analysis.get("threshold") or 1)
    metrics = []
    for index, metric in enumerate(analysis.get("metrics") or []):
        converted = _metric(
            metric,
            f"spec.analysis.metrics[{index}]",
            documents,
            namespace,
            prometheus,
            source,
            report,
        )
        if converted is not None:
            converted.update(interval=interval, failureLimit=max(threshold - 1, 0))
            metrics.append(converted)
    hooks.extend(_hooks(analysis, source, report))
    if not metrics:
        return steps, None, []
    report.differs(
        source,
        "spec.analysis.threshold",
        f"Flagger rolls back after {threshold} failed checks of any metric; serinus after "
        f"{threshold} failed measurements of one metric (failureLimit {max(threshold - 1, 0)})",
    )
    template = {"name": "flagger-metrics", "metrics": metrics}
    return steps, {"templates": ["flagger-metrics"]}, [template]


def _metric(
    metric: dict[str, Any],
    path: str,
    documents: list[dict[str, Any]],
    namespace: str,
    prometheus: str,
    source: str,
    report: Report,
) -> dict[str, Any] | None:
    name = str(metric.get("name"))
    window = str(metric.get("interval") or "1m")
    bounds = metric.get("thresholdRange") or {}
    condition = _condition(bounds)
    if condition is None:
        report.unsupported(source, f"{path}.thresholdRange", f"metric {name} has no threshold")
        return None
    if "templateRef" in metric:
        ref = metric["templateRef"]
        template = find(documents, "MetricTemplate", ref.get("name", ""))
        if template is None:
            report.unsupported(
                source,
                f"{path}.templateRef",
                f"MetricTemplate {ref.get('name')} not among the inputs",
            )
            return None
        template_spec = template.get("spec") or {}
        provider = template_spec.get("provider") or {}
        if provider.get("type", "prometheus") != "prometheus":
            report.unsupported(
                source, f"{path}.templateRef", f"provider {provider.get('type')} is not supported"
            )
            return None
        query = (
            str(template_spec.get("query", ""))
            .replace("{{ namespace }}", namespace)
            .replace("{{ target }}", "{{rollout.name}}-{{canary.color}}")
            .replace("{{ interval }}", window)
        )
        if "{{ variables." in query or "{{ service }}" in query or "{{ ingress }}" in query:
            report.unsupported(
                source,
                f"{path}.templateRef",
                "template variables other than namespace, target and interval",
            )
            return None
        address = provider.get("address") or prometheus
    elif name in _BUILTIN_ISTIO:
        query = _BUILTIN_ISTIO[name].format(namespace=namespace, interval=window)
        address = prometheus
        report.differs(
            source,
            path,
            f"built-in metric {name}: Flagger's Istio query against {address} "
            "(set the address with --prometheus)",
        )
    else:
        report.unsupported(source, path, f"metric {name}: not a built-in and no templateRef")
        return None
    return {
        "name": name,
        "successCondition": condition,
        "provider": {"prometheus": {"address": address, "query": query}},
    }


def _condition(bounds: dict[str, Any]) -> str | None:
    parts = []
    if bounds.get("min") is not None:
        parts.append(f"result[0] >= {float(bounds['min']):g}")
    if bounds.get("max") is not None:
        parts.append(f"result[0] <= {float(bounds['max']):g}")
    return " && ".join(parts) if parts else None
