"""Argo Rollouts AnalysisTemplate / ClusterAnalysisTemplate -> serinus analysis templates."""

from __future__ import annotations

from typing import Any

from serinus.app.importing.common import key, seconds
from serinus.app.importing.report import Report
from serinus.core.analysis.expressions import ExpressionError, parse_condition
from serinus.core.analysis.templating import VARIABLE

_UNSUPPORTED_PROVIDERS = {
    "kayenta": "use a `comparison` metric (serinus's Kayenta-style judge) on Prometheus data",
    "datadog": "no Datadog provider: query the same data through Prometheus or a web metric",
    "newRelic": "no New Relic provider: use a web metric on its REST API",
    "wavefront": "no Wavefront provider: use a web metric",
    "cloudWatch": "no CloudWatch provider: use a web metric or Prometheus (cloudwatch_exporter)",
    "graphite": "no Graphite provider: use a web metric on its render API",
    "influxdb": "no InfluxDB provider: use a web metric",
    "skywalking": "no SkyWalking provider: use a web metric",
    "plugin": "metric plugins are not supported",
}
_INT_FIELDS = ("failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "count")


def convert_template(document: dict[str, Any], report: Report) -> dict[str, Any] | None:
    """A serinus named analysis template, or None when no metric could be translated."""
    source = key(document)
    spec = document.get("spec") or {}
    name = (document.get("metadata") or {}).get("name")
    dry_run = {entry.get("metricName") for entry in spec.get("dryRun") or []}
    if "*" in dry_run:
        dry_run = {m.get("name") for m in spec.get("metrics") or []}
    args: list[dict[str, Any]] = []
    unusable_args: set[str] = set()
    for index, arg in enumerate(spec.get("args") or []):
        path = f"spec.args[{index}]"
        if "valueFrom" in arg:
            unusable_args.add(str(arg.get("name")))
            report.unsupported(
                source,
                f"{path}.valueFrom",
                "serinus fills variables itself ({{canary.version}}, {{canary.color}}, "
                "{{stable.version}}, {{rollout.name}}) and selects pods by the serinus.io/color "
                "label; arguments from secrets or pod-template hashes are not supported",
            )
            continue
        entry = {"name": arg.get("name")}
        if arg.get("value") is not None:
            entry["value"] = str(arg["value"])
        args.append(entry)
    metrics = []
    for index, metric in enumerate(spec.get("metrics") or []):
        path = f"spec.metrics[{index}]"
        converted = _metric(metric, path, source, report, unusable_args)
        if converted is not None:
            if metric.get("name") in dry_run:
                converted["dryRun"] = True
            metrics.append(converted)
    if "measurementRetention" in spec:
        report.unsupported(
            source, "spec.measurementRetention", "serinus keeps every measurement of a run"
        )
    if not metrics:
        report.unsupported(
            source, "spec.metrics", "no metric could be translated: template dropped"
        )
        return None
    report.translated(source, "spec", f"analysis template {name} ({len(metrics)} metrics)")
    used = {v.removeprefix("args.") for m in metrics for v in _variables(m)}
    return {"name": name, "args": [a for a in args if a["name"] in used], "metrics": metrics}


def _variables(data: Any) -> list[str]:
    if isinstance(data, str):
        return [m.group(1) for m in VARIABLE.finditer(data)]
    if isinstance(data, dict):
        return [v for value in data.values() for v in _variables(value)]
    if isinstance(data, list):
        return [v for value in data for v in _variables(value)]
    return []


def _metric(
    metric: dict[str, Any], path: str, source: str, report: Report, unusable_args: set[str]
) -> dict[str, Any] | None:
    name = metric.get("name")
    used = {v.removeprefix("args.") for v in _variables(metric) if v.startswith("args.")}
    if used & unusable_args:
        report.unsupported(
            source,
            path,
            f"metric {name} dropped: it uses {', '.join(sorted(used & unusable_args))}",
        )
        return None
    provider = _provider(metric.get("provider") or {}, f"{path}.provider", source, report)
    if provider is None:
        report.unsupported(source, path, f"metric {name} dropped: its provider has no equivalent")
        return None
    out: dict[str, Any] = {"name": name, "provider": provider}
    for field in ("interval", "initialDelay"):
        if field in metric:
            value = seconds(metric[field])
            if value is None:
                report.unsupported(
                    source, f"{path}.{field}", f"{metric[field]!r} is not a duration"
                )
            else:
                out[field] = value
    for field in _INT_FIELDS:
        value = metric.get(field)
        if value is None:
            continue
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            if not (field == "count" and int(value) == 0):  # Argo: 0 means "unset"
                out[field] = int(value)
        else:
            report.unsupported(
                source, f"{path}.{field}", f"{value!r}: serinus needs a number here, not a variable"
            )
    for field in ("successCondition", "failureCondition"):
        text = metric.get(field)
        if text is None:
            continue
        try:
            parse_condition(VARIABLE.sub("0", text))
        except ExpressionError as exc:
            report.unsupported(
                source,
                f"{path}.{field}",
                f"metric {name} dropped: the condition is not in serinus's expression language "
                f"({str(exc).splitlines()[0]})",
            )
            return None
        out[field] = text
    if "job" in provider and "successCondition" not in out and "failureCondition" not in out:
        out["successCondition"] = "result[0] == 1"  # Argo: the Job's success is the metric's
    if "successCondition" not in out and "failureCondition" not in out:
        report.unsupported(
            source, path, f"metric {name} dropped: serinus needs a success or failure condition"
        )
        return None
    report.differs(
        source,
        path,
        f"metric {name}: an empty or NaN result is never Successful in serinus (Argo evaluates "
        "the condition on it); a stated failure still fails",
    )
    return out


def _provider(
    provider: dict[str, Any], path: str, source: str, report: Report
) -> dict[str, Any] | None:
    if "prometheus" in provider:
        prometheus = provider["prometheus"]
        out: dict[str, Any] = {
            "address": prometheus.get("address"),
            "query": prometheus.get("query"),
        }
        if prometheus.get("timeout") is not None:
            out["timeout"] = float(prometheus["timeout"])
        if prometheus.get("insecure"):
            out["tls"] = {"insecureSkipVerify": True}
        for field in ("headers", "authentication"):
            if prometheus.get(field):
                report.unsupported(
                    source,
                    f"{path}.prometheus.{field}",
                    "use serinus's prometheus authentication (bearer or basic from a secret)",
                )
        return {"prometheus": out}
    if "web" in provider:
        web = provider["web"]
        out = {"url": web.get("url")}
        if web.get("method"):
            out["method"] = web["method"]
        if web.get("headers"):
            out["headers"] = [
                {"key": h.get("key"), "value": h.get("value")} for h in web["headers"]
            ]
        if web.get("body") is not None:
            out["body"] = web["body"]
        if web.get("jsonBody") is not None:
            report.unsupported(source, f"{path}.web.jsonBody", "give the body as a string (body)")
        if web.get("jsonPath"):
            # Argo writes `{$.data.ok}`; serinus's JSONPath has no braces.
            out["jsonPath"] = str(web["jsonPath"]).strip().removeprefix("{").removesuffix("}")
        if web.get("timeoutSeconds") is not None:
            out["timeout"] = float(web["timeoutSeconds"])
        if web.get("insecure"):
            out["insecure"] = True
        return {"web": out}
    if "job" in provider:
        job_spec = dict((provider["job"] or {}).get("spec") or {})
        pod = (job_spec.get("template") or {}).get("spec") or {}
        account = pod.get("serviceAccountName") or "default"
        report.differs(
            source,
            f"{path}.job",
            f"the Job runs under the ServiceAccount {account} named in the metric "
            "(serviceAccountName); Job metadata (labels, annotations) is not copied",
        )
        return {"job": {"spec": job_spec, "serviceAccountName": account}}
    for kind, why in _UNSUPPORTED_PROVIDERS.items():
        if kind in provider:
            report.unsupported(source, f"{path}.{kind}", why)
            return None
    report.unsupported(source, path, f"unknown provider {', '.join(provider) or '(none)'}")
    return None
