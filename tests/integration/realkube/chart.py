"""The operator as the chart deploys it, on the real API server: its RBAC, its token, its process.

`deploy_chart_rbac` renders deploy/helm/serinus with the real helm binary and applies what a
cluster would get for the operator's identity (ServiceAccount, Role/ClusterRole and bindings);
`operator_kubeconfig` gives a kubeconfig with a real token of that ServiceAccount (TokenRequest),
bound to a Pod named like a replica, so the API server tells replicas apart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from real_kube import REPO, RealKube

CHART = REPO / "deploy" / "helm" / "serinus"
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")


def helm_binary() -> str:
    binary = os.environ.get("SERINUS_HELM") or shutil.which("helm")
    if binary is None:
        pytest.skip("helm not found: set SERINUS_HELM or put helm on PATH (see docs/testing.md)")
    return binary


def render(release: str, namespace: str, home: Path, *values: str) -> list[dict[str, Any]]:
    """`helm template` of the chart, as the documents it renders."""
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    args = [helm_binary(), "template", release, str(CHART), "-n", namespace]
    for value in values:
        args += ["--set", value]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"helm template:\n{done.stdout}\n{done.stderr}"
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@dataclass(frozen=True)
class ChartRbac:
    release: str
    namespace: str  # the release namespace (the Lease lives there)
    account: str
    objects: list[dict[str, Any]]  # what was applied

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.account}"

    def rules(self, kind: str) -> list[dict[str, Any]]:
        """Every rule of the rendered Roles (kind "Role") or ClusterRoles."""
        return [rule for obj in self.objects if obj["kind"] == kind for rule in obj["rules"]]


def deploy_chart_rbac(
    kube: RealKube, release: str, namespace: str, home: Path, *values: str
) -> ChartRbac:
    """Apply the chart's ServiceAccount, Roles, ClusterRoles and bindings, as rendered."""
    objects = [d for d in render(release, namespace, home, *values) if d["kind"] in RBAC_KINDS]
    for obj in objects:
        kube.apply(obj)
    account = next(o for o in objects if o["kind"] == "ServiceAccount")["metadata"]["name"]
    return ChartRbac(release, namespace, account, objects)


def operator_kubeconfig(kube: RealKube, rbac: ChartRbac, pod: str, path: Path) -> Path:
    """A kubeconfig holding a real token of the chart's ServiceAccount, bound to Pod `pod`."""
    token = kube.service_account_token(rbac.namespace, rbac.account, pod=pod)
    return kube.write_kubeconfig(path, token, namespace=rbac.namespace)
