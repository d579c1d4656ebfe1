"""The Kubernetes examples are valid as written: Rollouts lint, routing objects fit the real CRDs,
and the example chart renders with the real helm binary for each color."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from serinus.adapters.kube.schemas import SchemaRegistry
from serinus.core.documents import load_rollout

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "kubernetes"
UPSTREAM_CRDS = SchemaRegistry.from_directory(ROOT / "third_party" / "schemas")
SERINUS_CRDS = SchemaRegistry.from_directory(ROOT / "deploy" / "crds")
FOLDERS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
HELM = os.environ.get("SERINUS_HELM") or shutil.which("helm")


def test_there_are_kubernetes_examples_with_readmes() -> None:
    assert {f.name for f in FOLDERS} >= {"deployment-istio", "helm-gatewayapi"}
    for folder in FOLDERS:
        assert (folder / "README.md").is_file()


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_manifests_are_valid(folder: Path) -> None:
    text = (folder / "rollout.yaml").read_text()
    rollout = load_rollout(text, str(folder / "rollout.yaml"))
    assert SERINUS_CRDS.problems(yaml.safe_load(text)) == []
    routing = [p for p in folder.glob("*.yaml") if p.name != "rollout.yaml"]
    assert routing, "each example ships the routing object serinus edits"
    for path in routing:
        for document in yaml.safe_load_all(path.read_text()):
            assert UPSTREAM_CRDS.problems(document) == [], path
            assert document["metadata"]["namespace"] == rollout.metadata.namespace


@pytest.mark.skipif(HELM is None, reason="helm not found (scripts/setup.sh --test installs it)")
def test_example_chart_renders_per_color(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    env.update({f"XDG_{kind}_HOME": str(tmp_path / kind) for kind in ("CACHE", "CONFIG", "DATA")})
    chart = EXAMPLES / "helm-gatewayapi" / "chart"
    assert HELM is not None
    for color in ("blue", "green"):
        rendered = subprocess.run(
            [HELM, "template", f"web-{color}", str(chart), "--set", "image.tag=6.5.1"],
            capture_output=True, text=True, check=True, env=env, timeout=60,
        )  # fmt: skip
        kinds = {
            (d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(rendered.stdout) if d
        }
        assert kinds == {("Deployment", f"web-{color}"), ("Service", f"web-{color}")}
        assert "podinfo:6.5.1" in rendered.stdout
