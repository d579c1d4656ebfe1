"""`serinus import`: real upstream manifests and hand-written ones convert into Rollouts that lint,
validate against serinus's CRD, and come with a report of what was translated and what was not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from serinus.adapters.kube.schemas import SchemaRegistry
from serinus.app.importing import Outcome, RouterChoice, import_documents
from serinus.core.documents import load_rollout
from serinus.core.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[4]
UPSTREAM = ROOT / "third_party" / "examples-upstream"
SCHEMAS = ROOT / "third_party" / "schemas"
DATA = Path(__file__).parent / "data"


def _documents(*paths: Path) -> list[dict[str, Any]]:
    return [d for path in paths for d in yaml.safe_load_all(path.read_text()) if d]


SERINUS_CRDS = SchemaRegistry.from_directory(ROOT / "deploy" / "crds")
UPSTREAM_CRDS = SchemaRegistry.from_directory(SCHEMAS)


def _rollouts(result_documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in result_documents if d["kind"] == "Rollout"]


def _check_output(documents: list[dict[str, Any]]) -> None:
    """Each Rollout lints (the `serinus lint` path, from YAML text) and fits serinus's CRD."""
    for document in _rollouts(documents):
        load_rollout(yaml.safe_dump(document), "imported")
        assert SERINUS_CRDS.problems(document) == []


def test_argo_istio_host_split() -> None:
    result = import_documents(
        _documents(UPSTREAM / "argo-rollouts_test_e2e_istio_istio-host-split.yaml")
    )
    assert not result.report.failed
    [rollout] = _rollouts(result.documents)
    _check_output(result.documents)
    spec = rollout["spec"]
    assert spec["version"] == "1.19-alpine"
    assert spec["trafficRouting"] == {
        "istio": {
            "virtualService": {"name": "istio-host-split-vsvc", "routes": ["primary"]},
            "hosts": {"blue": "istio-host-split-stable", "green": "istio-host-split-canary"},
        }
    }
    assert spec["strategy"] == {"canary": {"steps": [{"setWeight": 10}, {"pause": {}}]}}
    assert spec["workload"]["deployment"]["selector"] == {"app": "istio-host-split"}


def test_argo_istio_subset_split_maps_subsets_to_colors() -> None:
    result = import_documents(
        _documents(UPSTREAM / "argo-rollouts_examples_istio_istio-subset-split.yaml")
    )
    assert not result.report.failed
    [rollout] = _rollouts(result.documents)
    _check_output(result.documents)
    rule = rollout["spec"]["trafficRouting"]["istio"]["destinationRule"]
    assert (rule["blueSubsetName"], rule["greenSubsetName"]) == ("stable", "canary")
    notes = [f.note for f in result.report.findings if f.outcome is Outcome.DIFFERS]
    assert any("subsets by color" in note for note in notes)


def test_argo_appmesh_needs_a_router_and_converts_with_one() -> None:
    documents = _documents(UPSTREAM / "argo-rollouts_examples_appmesh_canary-rollout.yaml")
    refused = import_documents(documents)
    assert refused.report.failed and not refused.documents
    [error] = [f for f in refused.report.findings if f.outcome is Outcome.ERROR]
    assert "appMesh" in error.note and "--router" in error.note

    result = import_documents(documents, RouterChoice.parse("gateway-api:my-route"))
    assert not result.report.failed
    [rollout] = _rollouts(result.documents)
    _check_output(result.documents)
    spec = rollout["spec"]
    assert spec["trafficRouting"]["gatewayAPI"]["httpRoute"] == "my-route"
    assert [s.get("setWeight") for s in spec["strategy"]["canary"]["steps"]] == [
        25, None, 50, None, 75, None,
    ]  # fmt: skip
    assert spec["strategy"]["canary"]["steps"][3] == {"pause": {"duration": 600.0}}
    assert spec["workload"]["deployment"]["replicas"] == 4


def test_flagger_istio_canary_with_its_deployment() -> None:
    documents = _documents(UPSTREAM / "flagger_artifacts_examples_istio-canary.yaml")
    refused = import_documents(documents)
    assert refused.report.failed, "the Canary alone has no pod template"

    result = import_documents(documents + _documents(DATA / "flagger-podinfo-deployment.yaml"))
    assert not result.report.failed
    [rollout] = _rollouts(result.documents)
    [virtual_service] = [d for d in result.documents if d["kind"] == "VirtualService"]
    _check_output(result.documents)
    assert UPSTREAM_CRDS.problems(virtual_service) == []
    assert virtual_service["spec"]["gateways"] == ["istio-system/public-gateway", "mesh"]
    spec = rollout["spec"]
    weights = [s["setWeight"] for s in spec["strategy"]["canary"]["steps"] if "setWeight" in s]
    assert weights == list(range(5, 51, 5))
    [template] = spec["analysisTemplates"]
    conditions = {m["name"]: m["successCondition"] for m in template["metrics"]}
    assert conditions == {
        "request-success-rate": "result[0] >= 99",
        "request-duration": "result[0] <= 500",
    }
    assert all(m["failureLimit"] == 9 for m in template["metrics"])  # threshold 10
    [hook] = spec["strategy"]["canary"]["hooks"]
    assert (hook["type"], hook["name"], hook["timeout"]) == ("preRollout", "conformance-test", 15)
    assert hook["metadata"]["type"] == "bash"
    load_test = [f for f in result.report.findings if f.field == "spec.analysis.webhooks[1]"]
    assert [f.outcome for f in load_test] == [Outcome.UNSUPPORTED]  # Flagger's `rollout` type


def test_hand_written_argo_canary_is_valid_argo_and_converts() -> None:
    documents = _documents(DATA / "argo-canary-full.yaml")
    for document in documents:
        assert UPSTREAM_CRDS.problems(document) == [], "the input is a valid Argo manifest"

    result = import_documents(documents)
    assert not result.report.failed
    [rollout] = _rollouts(result.documents)
    _check_output(result.documents)
    canary = rollout["spec"]["strategy"]["canary"]
    assert canary["steps"][1]["setHeaderRoute"]["match"][0]["headerName"] == "X-Canary"
    assert canary["steps"][2] == {"pause": {"duration": 5400.0}}
    assert canary["analysis"] == {
        "templates": ["error-ratio"],
        "args": {"service": "checkout-canary"},
        "startingStep": 2,
    }
    assert (canary["scaleDownDelay"], canary["abortScaleDownDelay"]) == (60.0, 10.0)
    [template] = rollout["spec"]["analysisTemplates"]
    metrics = {m["name"]: m for m in template["metrics"]}
    assert set(metrics) == {"errors", "latency", "smoke"}  # datadog has no equivalent
    assert metrics["smoke"]["successCondition"] == "result[0] == 1"
    assert metrics["smoke"]["provider"]["job"]["serviceAccountName"] == "smoke-tests"
    assert metrics["latency"]["provider"]["web"]["jsonPath"] == "$.data.p95"
    assert metrics["latency"]["dryRun"] is True
    assert metrics["errors"]["count"] == 5
    unsupported = {f.field for f in result.report.findings if f.outcome is Outcome.UNSUPPORTED}
    assert "spec.strategy.canary.steps[4].setCanaryScale" in unsupported
    assert "spec.metrics[3].provider.datadog" in unsupported


def test_argo_blue_green_through_workload_ref() -> None:
    documents = _documents(DATA / "argo-bluegreen.yaml")
    assert import_documents(documents).report.failed, "blueGreen needs a router"
    result = import_documents(documents, RouterChoice.parse("nginx:api"))
    assert not result.report.failed
    [rollout] = _rollouts(result.documents)
    _check_output(result.documents)
    assert rollout["spec"]["strategy"] == {
        "blueGreen": {"autoPromotion": False, "scaleDownDelay": 120.0, "abortScaleDownDelay": 15.0}
    }
    assert rollout["spec"]["version"] == "v7"
    assert rollout["spec"]["workload"]["deployment"]["replicas"] == 3


def test_missing_template_drops_the_step_and_says_so() -> None:
    documents = _documents(DATA / "argo-canary-full.yaml")[1:]  # the Rollout without its template
    result = import_documents(documents)
    [rollout] = _rollouts(result.documents)
    _check_output(result.documents)
    assert "analysisTemplates" not in rollout["spec"]
    assert "analysis" not in rollout["spec"]["strategy"]["canary"]
    assert any("not among the inputs" in f.note for f in result.report.findings)


def test_bad_router_option_names_it() -> None:
    with pytest.raises(InvalidInput, match="--router"):
        RouterChoice.parse("appmesh:x")


def test_cli_writes_yaml_and_a_report(tmp_path: Path) -> None:
    from serinus.entrypoints.cli.main import app

    report = tmp_path / "report.json"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "import",
            str(UPSTREAM / "argo-rollouts_test_e2e_istio_istio-host-split.yaml"),
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    [rollout] = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert rollout["metadata"]["name"] == "istio-host-split"
    findings = json.loads(report.read_text())
    assert {f["outcome"] for f in findings} >= {"translated", "differs"}

    failed = runner.invoke(
        app, ["import", str(UPSTREAM / "argo-rollouts_examples_appmesh_canary-rollout.yaml")]
    )
    assert failed.exit_code == 1
