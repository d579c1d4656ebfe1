"""`serinus import`: Argo Rollouts and Flagger manifests -> serinus Rollouts, with a report.

Pure: documents in, documents and findings out. Every output Rollout is validated with the same
models `serinus lint` uses; a Rollout that does not validate is reported as an error, not written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from serinus.app.importing.argo import convert_rollout
from serinus.app.importing.common import RouterChoice, key
from serinus.app.importing.flagger import DEFAULT_PROMETHEUS, convert_canary
from serinus.app.importing.report import Finding, Outcome, Report
from serinus.core.documents import validate_model
from serinus.core.errors import InvalidInput
from serinus.core.spec import Rollout

__all__ = ["Finding", "ImportResult", "Outcome", "RouterChoice", "import_documents"]

_SUPPORTING = {  # read when a Rollout or Canary refers to them; not converted on their own
    "AnalysisTemplate",
    "ClusterAnalysisTemplate",
    "MetricTemplate",
    "Deployment",
    "Service",
    "VirtualService",
    "DestinationRule",
    "HTTPRoute",
    "Ingress",
}


@dataclass
class ImportResult:
    documents: list[dict[str, Any]] = field(default_factory=list)
    report: Report = field(default_factory=Report)


def import_documents(
    documents: list[dict[str, Any]],
    router: RouterChoice | None = None,
    prometheus: str = DEFAULT_PROMETHEUS,
) -> ImportResult:
    result = ImportResult()
    report = result.report
    for document in documents:
        api_version = str(document.get("apiVersion", ""))
        kind = document.get("kind")
        if kind == "Rollout" and api_version.startswith("argoproj.io/"):
            converted = convert_rollout(document, documents, report, router)
            outputs = [converted] if converted is not None else []
        elif kind == "Canary" and api_version.startswith("flagger.app/"):
            outputs = convert_canary(document, documents, report, router, prometheus)
        elif kind in _SUPPORTING:
            continue
        else:
            report.unsupported(key(document), "kind", f"{api_version} {kind} is not imported")
            continue
        for output in outputs:
            if output.get("kind") == "Rollout":
                try:
                    validate_model(Rollout, output, key(output))
                except InvalidInput as exc:
                    for problem in exc.problems:
                        report.error(key(document), "(output)", f"does not validate: {problem}")
                    continue
            result.documents.append(output)
    return result
