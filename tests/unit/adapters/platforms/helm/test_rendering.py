"""helm's command line, the binary lookup and reading its output (no helm needed)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from serinus.adapters.platforms.helm.rendering import find_helm, parse_manifests, template_command
from serinus.core.errors import PlatformError
from serinus.core.workload_spec import HelmWorkload


def test_the_command_passes_values_files_sets_and_the_version(tmp_path: Path) -> None:
    (tmp_path / "charts" / "game").mkdir(parents=True)
    workload = HelmWorkload.model_validate(
        {
            "chart": "charts/game",
            "valuesFiles": ["prod.yaml", "/etc/extra.yaml"],
            "set": {"image.repository": "r", "optool.enabled": "false"},
            "repo": "https://charts.example.com",
            "chartVersion": "1.2.3",
        }
    )
    command = template_command(
        "/bin/helm", workload, "game-green", "games", "2.0", tmp_path / "v.json", tmp_path
    )
    assert command == [
        "/bin/helm", "template", "game-green", str(tmp_path / "charts" / "game"),
        "--namespace", "games",
        "--repo", "https://charts.example.com",
        "--version", "1.2.3",
        "--values", str(tmp_path / "prod.yaml"),
        "--values", "/etc/extra.yaml",
        "--values", str(tmp_path / "v.json"),
        "--set", "image.repository=r",
        "--set", "optool.enabled=false",
        "--set-string", "image.tag=2.0",
    ]  # fmt: skip


def test_a_repo_reference_is_passed_as_written_and_version_value_can_be_off(
    tmp_path: Path,
) -> None:
    workload = HelmWorkload.model_validate({"chart": "bitnami/nginx", "versionValue": None})
    command = template_command("helm", workload, "r-blue", "ns", "v1", tmp_path / "v", tmp_path)
    assert command[3] == "bitnami/nginx"
    assert "--set-string" not in command


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_binary_comes_from_the_spec_then_the_environment_then_path(tmp_path: Path) -> None:
    spec_helm = executable(tmp_path / "spec-helm")
    env_helm = executable(tmp_path / "env-helm")
    assert find_helm(str(spec_helm), {"SERINUS_HELM": str(env_helm)}) == str(spec_helm)
    assert find_helm(None, {"SERINUS_HELM": str(env_helm)}) == str(env_helm)


def test_a_missing_binary_names_it_its_source_and_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(PlatformError) as refused:
        find_helm(None, {"SERINUS_HELM": str(tmp_path / "nope")})
    message = str(refused.value)
    assert str(tmp_path / "nope") in message and "$SERINUS_HELM" in message
    assert "lambda-layer-kubectl" in message


def test_manifests_skip_empty_documents_and_refuse_objects_without_names() -> None:
    text = "---\n# only a comment\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
    assert [o["metadata"]["name"] for o in parse_manifests(text, "helm")] == ["a"]
    with pytest.raises(PlatformError, match=r"no apiVersion or metadata\.name"):
        parse_manifests("apiVersion: v1\nkind: Service\nmetadata: {}\n", "helm")
    with pytest.raises(PlatformError, match="cannot read"):
        parse_manifests("a: [", "helm")
