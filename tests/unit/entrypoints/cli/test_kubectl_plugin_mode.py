"""`kubectl serinus` acts on the current kubeconfig context by default, like every kubectl
plugin: bin/kubectl-serinus sets SERINUS_MODE=cluster, so without -n/--context a `get` goes to
the cluster named by the kubeconfig, not to the local state folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[4] / "bin" / "kubectl-serinus"


def plugin(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PLUGIN), *args],
        env={**os.environ, "SERINUS_STATE_DIR": str(tmp_path / "state"), **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_plugin_selects_the_cluster_mode(tmp_path: Path) -> None:
    done = plugin(tmp_path=tmp_path, SERINUS="env")

    assert "SERINUS_MODE=cluster" in done.stdout.splitlines()


def test_get_without_options_reads_the_kubeconfig_not_the_local_state(tmp_path: Path) -> None:
    absent = tmp_path / "no-such-kubeconfig"
    serinus = f"{sys.executable} -m serinus.entrypoints.cli"

    done = plugin("get", "web", tmp_path=tmp_path, SERINUS=serinus, KUBECONFIG=str(absent))

    assert done.returncode == 1
    assert f"kubeconfig {absent}" in done.stderr  # it went for the cluster
    assert "not found (known:" not in done.stderr  # not the local store's answer
    assert not (tmp_path / "state").exists()


def test_serinus_mode_local_keeps_the_local_store(tmp_path: Path) -> None:
    serinus = f"{sys.executable} -m serinus.entrypoints.cli"

    done = plugin("get", "web", tmp_path=tmp_path, SERINUS=serinus, SERINUS_MODE="local")

    assert done.returncode == 1
    assert "rollout 'web' not found (known: none)" in done.stderr
