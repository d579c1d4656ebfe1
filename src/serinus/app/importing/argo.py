"""Argo Rollouts `Rollout` (argoproj.io/v1alpha1) -> serinus Rollout.

Argo names things by role (stable/canary); serinus by color (blue/green take turns being
stable), so role-named Services and subsets map to colors and the report says so.
"""

from __future__ import annotations

from typing import Any

from serinus.app.importing.argo_analysis import convert_template
from serinus.app.importing.common import (
    RouterChoice,
    find,
    key,
    metadata_of,
    seconds,
    version_of_image,
)
from serinus.app.importing.report import Report

_UNSUPPORTED_STEPS = {
    "setCanaryScale": "serinus scales the canary with its weight (canary) or to full size "
    "(blueGreenCanary); choose the strategy instead",
    "experiment": "experiments are not supported; use an analysis step with a comparison metric",
    "plugin": "step plugins are not supported",
}
_UNSUPPORTED_ROUTERS = ("alb", "smi", "appMesh", "traefik", "ambassador", "apisix", "managedRoutes")


def convert_rollout(
    document: dict[str, Any],
    documents: list[dict[str, Any]],
    report: Report,
    router: RouterChoice | None,
) -> dict[str, Any] | None:
    source = key(document)
    spec = document.get("spec") or {}
    workload = _workload(spec, documents, source, report)
    if workload is None:
        return None
    version = _version(workload["deployment"]["template"], source, report)
    strategy = spec.get("strategy") or {}
    out_spec: dict[str, Any] = {"version": version, "workload": workload}
    templates: dict[str, dict[str, Any]] = {}
    if "canary" in strategy:
        converted = _canary(strategy["canary"], documents, templates, source, report, router)
    elif "blueGreen" in strategy:
        converted = _blue_green(strategy["blueGreen"], source, report, router)
    else:
        report.error(source, "spec.strategy", "needs canary or blueGreen")
        return None
    if converted is None:
        return None
    out_spec["strategy"], out_spec["trafficRouting"] = converted
    if templates:
        out_spec["analysisTemplates"] = list(templates.values())
    if "progressDeadlineSeconds" in spec:
        out_spec["progressDeadlineSeconds"] = float(spec["progressDeadlineSeconds"])
    if spec.get("progressDeadlineAbort") is False:
        report.differs(
            source,
            "spec.progressDeadlineAbort",
            "serinus always aborts a rollout that misses its progress deadline",
        )
    for field, why in (
        ("revisionHistoryLimit", "serinus keeps the previous version only (undo)"),
        ("rollbackWindow", "not supported in this version"),
        ("minReadySeconds", "serinus's readiness comes from the pods' Ready condition"),
        ("paused", "pause a serinus rollout with `serinus pause`"),
    ):
        if field in spec:
            report.unsupported(source, f"spec.{field}", why)
    report.translated(source, "spec", f"Rollout {metadata_of(document)['name']}")
    return {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": metadata_of(document),
        "spec": out_spec,
    }


def _workload(
    spec: dict[str, Any], documents: list[dict[str, Any]], source: str, report: Report
) -> dict[str, Any] | None:
    template = spec.get("template")
    replicas = spec.get("replicas")
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if template is None and "workloadRef" in spec:
        ref = spec["workloadRef"]
        referenced = find(documents, ref.get("kind", "Deployment"), ref.get("name", ""))
        if referenced is None:
            report.error(
                source,
                "spec.workloadRef",
                f"pass the referenced {ref.get('kind', 'Deployment')} {ref.get('name')} too: "
                "serinus owns its Deployments and needs the pod template",
            )
            return None
        deployment_spec = referenced.get("spec") or {}
        template = deployment_spec.get("template")
        replicas = replicas if replicas is not None else deployment_spec.get("replicas")
        selector = selector or (deployment_spec.get("selector") or {}).get("matchLabels") or {}
        report.differs(
            source,
            "spec.workloadRef",
            f"serinus creates a Deployment per color from {ref.get('name')}'s pod template; "
            "scale the original Deployment to 0 once the serinus rollout serves",
        )
    if not isinstance(template, dict):
        report.error(source, "spec.template", "a pod template (or workloadRef) is required")
        return None
    if (spec.get("selector") or {}).get("matchExpressions"):
        report.unsupported(
            source, "spec.selector.matchExpressions", "serinus selects pods by labels only"
        )
    deployment: dict[str, Any] = {"replicas": int(replicas or 1), "template": template}
    if selector:
        deployment["selector"] = dict(selector)
    return {"deployment": deployment}


def _version(template: dict[str, Any], source: str, report: Report) -> str:
    containers = (template.get("spec") or {}).get("containers") or [{}]
    image = str(containers[0].get("image", ""))
    version = version_of_image(image) or "imported"
    report.differs(
        source,
        "spec.template.spec.containers[0].image",
        f"spec.version {version} comes from the image tag; serinus starts a rollout when "
        "spec.version changes, so change the image and spec.version together",
    )
    return version


def _routing(
    canary: dict[str, Any], source: str, report: Report, router: RouterChoice | None
) -> dict[str, Any] | None:
    routing = canary.get("trafficRouting") or {}
    path = "spec.strategy.canary.trafficRouting"
    services = {"blue": canary.get("stableService"), "green": canary.get("canaryService")}
    colors = {color: name for color, name in services.items() if name}
    if colors:
        report.differs(
            source,
            "spec.strategy.canary.stableService/canaryService",
            f"serinus names Services by color: blue={colors.get('blue')}, "
            f"green={colors.get('green')}; each color is the stable one in turn, so consider "
            "neutral names (e.g. <app>-blue, <app>-green)",
        )
    if "istio" in routing:
        istio = routing["istio"]
        services_list = istio.get("virtualServices")
        virtual_service = istio.get("virtualService") or (services_list or [None])[0]
        if virtual_service is None:
            report.error(source, f"{path}.istio", "needs virtualService")
            return None
        if services_list and len(services_list) > 1:
            report.unsupported(
                source, f"{path}.istio.virtualServices", "serinus manages one VirtualService"
            )
        out: dict[str, Any] = {"virtualService": {"name": virtual_service["name"]}}
        if virtual_service.get("routes"):
            out["virtualService"]["routes"] = list(virtual_service["routes"])
        if "destinationRule" in istio:
            rule = istio["destinationRule"]
            out["destinationRule"] = {
                "name": rule["name"],
                "blueSubsetName": rule.get("stableSubsetName", "stable"),
                "greenSubsetName": rule.get("canarySubsetName", "canary"),
                "manageSubsets": False,
            }
            report.differs(
                source,
                f"{path}.istio.destinationRule",
                "serinus keys subsets by color: the subset named "
                f"{rule.get('stableSubsetName')!r} is blue, {rule.get('canarySubsetName')!r} "
                "green; each serves the stable version in turn",
            )
        elif colors:
            out["hosts"] = colors
        report.translated(source, f"{path}.istio")
        return {"istio": out}
    if "nginx" in routing:
        nginx = routing["nginx"]
        out = {"stableIngress": nginx.get("stableIngress")}
        if colors:
            out["services"] = colors
        for field in (
            "additionalIngressAnnotations",
            "stableIngresses",
            "canaryIngressAnnotations",
        ):
            if field in nginx:
                report.unsupported(source, f"{path}.nginx.{field}", "not supported")
        report.translated(source, f"{path}.nginx")
        return {"nginx": out}
    plugin = (routing.get("plugins") or {}).get("argoproj-labs/gatewayAPI")
    if plugin is not None:
        out = {"httpRoute": plugin.get("httpRoute")}
        if plugin.get("namespace"):
            out["namespace"] = plugin["namespace"]
        if colors:
            out["services"] = colors
        report.translated(source, f"{path}.plugins.argoproj-labs/gatewayAPI")
        return {"gatewayAPI": out}
    named = [name for name in _UNSUPPORTED_ROUTERS if name in routing] or list(routing)
    if router is not None:
        if named:
            report.unsupported(
                source, path, f"{', '.join(named)} replaced by --router {router.kind}:{router.name}"
            )
        return router.routing()
    report.error(
        source,
        path,
        (f"serinus cannot route through {', '.join(named)}; " if named else "no traffic router; ")
        + "pass --router istio:VS, gateway-api:ROUTE or nginx:INGRESS",
    )
    return None


def _canary(
    canary: dict[str, Any],
    documents: list[dict[str, Any]],
    templates: dict[str, dict[str, Any]],
    source: str,
    report: Report,
    router: RouterChoice | None,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    routing = _routing(canary, source, report, router)
    if routing is None:
        return None
    out: dict[str, Any] = {"steps": []}
    for index, step in enumerate(canary.get("steps") or []):
        converted = _step(
            step, f"spec.strategy.canary.steps[{index}]", documents, templates, source, report
        )
        if converted is not None:
            out["steps"].append(converted)
    if "analysis" in canary:
        background = _analysis(
            canary["analysis"],
            "spec.strategy.canary.analysis",
            documents,
            templates,
            source,
            report,
        )
        if background is not None:
            if canary["analysis"].get("startingStep") is not None:
                background["startingStep"] = int(canary["analysis"]["startingStep"])
            out["analysis"] = background
    for field, target in (
        ("scaleDownDelaySeconds", "scaleDownDelay"),
        ("abortScaleDownDelaySeconds", "abortScaleDownDelay"),
    ):
        if field in canary:
            out[target] = float(canary[field])
    for field in ("maxSurge", "maxUnavailable", "dynamicStableScale", "antiAffinity", "pingPong"):
        if field in canary:
            report.unsupported(
                source,
                f"spec.strategy.canary.{field}",
                "serinus's canary keeps blue at full size and scales green with its weight",
            )
    return {"canary": out}, routing


def _step(
    step: dict[str, Any],
    path: str,
    documents: list[dict[str, Any]],
    templates: dict[str, dict[str, Any]],
    source: str,
    report: Report,
) -> dict[str, Any] | None:
    if "setWeight" in step:
        return {"setWeight": int(step["setWeight"])}
    if "pause" in step:
        pause = step["pause"] or {}
        if pause.get("duration") is None:
            return {"pause": {}}
        duration = seconds(pause["duration"])
        if duration is None:
            report.unsupported(
                source, f"{path}.pause.duration", f"{pause['duration']!r} is not a duration"
            )
            return None
        return {"pause": {"duration": duration}}
    if "analysis" in step:
        where = f"{path}.analysis"
        converted = _analysis(step["analysis"], where, documents, templates, source, report)
        return {"analysis": converted} if converted is not None else None
    if "setHeaderRoute" in step:
        route = step["setHeaderRoute"]
        matches = [
            {"headerName": m.get("headerName"), "headerValue": dict(m.get("headerValue") or {})}
            for m in route.get("match") or []
        ]
        return {"setHeaderRoute": {"name": route.get("name"), "match": matches}}
    if "setMirrorRoute" in step:
        mirror = step["setMirrorRoute"]
        if mirror.get("match"):
            report.unsupported(
                source, f"{path}.setMirrorRoute.match", "serinus mirrors a share of all requests"
            )
        return {
            "setMirror": {
                "percentage": int(mirror.get("percentage", 100) if "match" in mirror else 0)
            }
        }
    for kind, why in _UNSUPPORTED_STEPS.items():
        if kind in step:
            report.unsupported(source, f"{path}.{kind}", why)
            return None
    report.unsupported(source, path, f"unknown step {', '.join(step)}")
    return None


def _analysis(
    analysis: dict[str, Any],
    path: str,
    documents: list[dict[str, Any]],
    templates: dict[str, dict[str, Any]],
    source: str,
    report: Report,
) -> dict[str, Any] | None:
    names = []
    for index, ref in enumerate(analysis.get("templates") or []):
        name = ref.get("templateName")
        kind = "ClusterAnalysisTemplate" if ref.get("clusterScope") else "AnalysisTemplate"
        if name not in templates:
            document = find(documents, kind, name)
            if document is None:
                report.unsupported(
                    source, f"{path}.templates[{index}]", f"{kind} {name} not among the inputs"
                )
                continue
            converted = convert_template(document, report)
            if converted is None:
                continue
            templates[name] = converted
        names.append(name)
    if not names:
        report.unsupported(source, path, "analysis dropped: none of its templates could be used")
        return None
    args: dict[str, str] = {}
    for index, arg in enumerate(analysis.get("args") or []):
        if "value" in arg:
            args[str(arg["name"])] = str(arg["value"])
        else:
            report.unsupported(
                source, f"{path}.args[{index}]", "only literal values (value) are supported"
            )
    out: dict[str, Any] = {"templates": names}
    declared = {a["name"] for n in names for a in templates[n]["args"]}
    kept = {k: v for k, v in args.items() if k in declared}
    if kept:
        out["args"] = kept
    return out


def _blue_green(
    blue_green: dict[str, Any], source: str, report: Report, router: RouterChoice | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    path = "spec.strategy.blueGreen"
    if router is None:
        report.error(
            source,
            path,
            "Argo's blueGreen switches Service selectors; serinus switches traffic in a router: "
            "pass --router istio:VS, gateway-api:ROUTE or nginx:INGRESS",
        )
        return None
    report.differs(
        source,
        f"{path}.activeService/previewService",
        f"traffic switches in the {router.kind} router {router.name}, not by Service selectors",
    )
    out: dict[str, Any] = {}
    if "autoPromotionEnabled" in blue_green:
        out["autoPromotion"] = bool(blue_green["autoPromotionEnabled"])
    if "autoPromotionSeconds" in blue_green:
        out["autoPromotionSeconds"] = float(blue_green["autoPromotionSeconds"])
    for field, target in (
        ("scaleDownDelaySeconds", "scaleDownDelay"),
        ("abortScaleDownDelaySeconds", "abortScaleDownDelay"),
    ):
        if field in blue_green:
            out[target] = float(blue_green[field])
    for field in ("prePromotionAnalysis", "postPromotionAnalysis", "previewReplicaCount"):
        if field in blue_green:
            report.unsupported(
                source,
                f"{path}.{field}",
                "use the blueGreenCanary strategy with analysis steps instead",
            )
    return {"blueGreen": out}, router.routing()
