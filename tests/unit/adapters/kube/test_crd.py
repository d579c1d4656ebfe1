"""The Rollout CRD: generated from the spec models, structural, fresh, and accepting examples.

`test_the_committed_crd_is_up_to_date` fails when a spec model changed without regenerating:
    python -m serinus.adapters.kube.crd > deploy/crds/rollouts.serinus.io.yaml
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from serinus.adapters.kube import crd
from serinus.adapters.kube.schemas import SchemaRegistry
from serinus.core.spec import Rollout

ROOT = Path(__file__).resolve().parents[4]
COMMITTED = ROOT / "deploy" / "crds" / "rollouts.serinus.io.yaml"
HERE = Path(__file__).parent


def example_rollouts() -> list[Path]:
    """The Rollouts next to this test and every serinus Rollout under examples/ and deploy/."""
    found = sorted((HERE / "rollouts").glob("*.yaml"))
    for folder in (ROOT / "examples", ROOT / "deploy"):
        for path in sorted(folder.rglob("*.yaml")) if folder.is_dir() else []:
            if "templates" in path.parts:
                continue  # Helm templates are not YAML until rendered
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            if any(
                isinstance(d, dict) and d.get("apiVersion") == "serinus.io/v1alpha1"
                for d in documents
            ):
                found.append(path)
    return found


def rollouts_in(path: Path) -> list[dict[str, Any]]:
    return [
        d
        for d in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if isinstance(d, dict) and d.get("kind") == "Rollout"
    ]


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry([crd.rollout_crd()])


def test_the_committed_crd_is_up_to_date() -> None:
    assert COMMITTED.is_file(), f"{COMMITTED} is missing: run python -m serinus.adapters.kube.crd"
    assert COMMITTED.read_text(encoding="utf-8") == crd.render(), (
        f"{COMMITTED} is stale: regenerate it with "
        "`python -m serinus.adapters.kube.crd > deploy/crds/rollouts.serinus.io.yaml`"
    )


def test_the_manifest_has_no_yaml_anchors() -> None:
    """Shared sub-schemas are written in full; some tools refuse anchors in manifests."""
    assert "&id" not in crd.render() and "*id" not in crd.render()


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path or "(root)", schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")


def test_the_schema_is_structural() -> None:
    """The rules the API server checks on a CRD's schema (structural schema, apiextensions v1)."""
    problems = []
    for path, node in nodes(crd.rollout_schema()):
        for forbidden in ("$ref", "anyOf", "oneOf", "allOf", "const", "title", "$defs"):
            if forbidden in node:
                problems.append(f"{path}: has {forbidden}")
        typed = "type" in node or node.get("x-kubernetes-int-or-string")
        if not typed and not node.get("x-kubernetes-preserve-unknown-fields"):
            problems.append(f"{path}: no type")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: properties and additionalProperties together")
        if not isinstance(node.get("exclusiveMinimum", False), bool):
            problems.append(f"{path}: numeric exclusiveMinimum (OpenAPI v3 wants a boolean)")
    assert problems == []


def test_free_form_fields_keep_unknown_fields() -> None:
    spec = crd.rollout_schema()["properties"]["spec"]["properties"]
    workload = spec["workload"]["properties"]
    assert workload["deployment"]["properties"]["template"]["x-kubernetes-preserve-unknown-fields"]
    assert workload["helm"]["properties"]["values"]["x-kubernetes-preserve-unknown-fields"]
    assert spec["progressDeadlineSeconds"]["x-kubernetes-preserve-unknown-fields"]  # 30, "30s"


def test_names_printer_columns_and_status_subresource() -> None:
    document = crd.rollout_crd()
    names = document["spec"]["names"]
    assert names["kind"] == "Rollout" and names["plural"] == "rollouts"
    assert "ro" not in names["shortNames"]  # Argo Rollouts' short name
    version = document["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Phase"] == ".status.phase"
    assert columns["Step"] == ".status.step"
    assert columns["Weight"] == ".status.weight"
    assert columns["Age"] == ".metadata.creationTimestamp"


@pytest.mark.parametrize("path", example_rollouts(), ids=lambda p: p.name)
def test_example_rollouts_validate_against_the_crd_and_the_models(
    path: Path, registry: SchemaRegistry
) -> None:
    documents = rollouts_in(path)
    assert documents, f"{path} holds no Rollout"
    for document in documents:
        assert registry.problems(document) == []
        Rollout.model_validate(document)  # and serinus itself accepts it


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["spec"]["strategy"]["blueGreenCanary"]["steps"].append({"setWeight": 150}),
         "setWeight"),
        (lambda d: d["spec"]["workload"]["deployment"].update(replicas="four"), "replicas"),
        (lambda d: d["spec"].update(version=""), "version"),
        (lambda d: d["spec"]["workload"]["deployment"].pop("template"), "template"),
    ],
)  # fmt: skip
def test_the_crd_refuses_what_the_models_refuse(
    registry: SchemaRegistry, edit: Any, field: str
) -> None:
    document = rollouts_in(HERE / "rollouts" / "game-deployment.yaml")[0]
    edit(document)
    problems = registry.problems(document)
    assert any(field in problem for problem in problems), problems
