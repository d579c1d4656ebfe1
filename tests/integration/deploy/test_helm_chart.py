"""deploy/helm/serinus rendered by the real helm binary: lint, both watch modes, least privilege.

helm comes from $SERINUS_HELM or PATH (CI installs it; see DESIGN.md for the npm package that
ships a static helm v4). HOME and the XDG folders point into tmp_path so helm reads and writes
nothing of the user's.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "deploy" / "helm" / "serinus"
CRD = REPO / "deploy" / "crds" / "rollouts.serinus.io.yaml"
RELEASE_NAMESPACE = "serinus-system"

# What the operator may do in the namespaces it watches (see the chart README): (group,
# resource) -> verbs. Anything more is a least-privilege regression; anything less breaks it.
WATCHED_RULES: dict[tuple[str, str], set[str]] = {
    ("serinus.io", "rollouts"): {"get", "list", "watch"},
    ("serinus.io", "rollouts/status"): {"get", "update"},
    ("apps", "deployments"): {"get", "list", "watch", "create", "update", "delete"},
    ("", "services"): {"get", "list", "watch", "create", "update", "delete"},
    ("", "configmaps"): {"get", "list", "create", "update", "delete"},
    ("", "pods"): {"list", "watch"},
    ("", "events"): {"create"},
    ("networking.istio.io", "virtualservices"): {"get", "list", "watch", "update"},
    ("networking.istio.io", "destinationrules"): {"get", "list", "watch", "update"},
    ("gateway.networking.k8s.io", "httproutes"): {"get", "list", "watch", "update"},
    ("networking.k8s.io", "ingresses"): {"get", "list", "watch", "create", "update", "delete"},
}
JOB_RULES = {("batch", "jobs"): {"get", "create", "delete"}}


def helm_binary() -> str | None:
    return os.environ.get("SERINUS_HELM") or shutil.which("helm")


@pytest.fixture
def helm(tmp_path: Path) -> Iterator[Any]:
    binary = helm_binary()
    if binary is None:
        pytest.skip("helm not found: set SERINUS_HELM or put helm on PATH (see DESIGN.md)")
    home = tmp_path / "helm-home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [binary, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if check:
            assert done.returncode == 0, f"helm {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    yield run


def render(helm: Any, *values: str, include_crds: bool = False) -> list[dict[str, Any]]:
    args = ["template", "serinus", str(CHART), "-n", RELEASE_NAMESPACE]
    for value in values:
        args += ["--set", value]
    if include_crds:
        args.append("--include-crds")
    return [d for d in yaml.safe_load_all(helm(*args).stdout) if d]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def granted(rules: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    result: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                result.setdefault((group, resource), set()).update(rule["verbs"])
    return result


def all_rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for o in objects if o["kind"] in ("Role", "ClusterRole") for r in o["rules"]]


@pytest.mark.parametrize("values", [(), ("watchNamespace=shop",), ("api.enabled=false",)])
def test_helm_lint_passes(helm: Any, values: tuple[str, ...]) -> None:
    args = ["lint", str(CHART), "--strict"]
    for value in values:
        args += ["--set", value]
    helm(*args)


def test_all_namespaces_mode_grants_the_rules_cluster_wide(helm: Any) -> None:
    objects = render(helm)

    role = one(objects, "ClusterRole", "serinus")
    assert granted(role["rules"]) == WATCHED_RULES
    binding = one(objects, "ClusterRoleBinding", "serinus")
    assert binding["roleRef"]["name"] == "serinus"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "serinus", "namespace": RELEASE_NAMESPACE}
    ]
    args = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "operator"
    assert "--all-namespaces" in args
    assert not [a for a in args if a.startswith("--namespace")]


def test_one_namespace_mode_grants_a_role_there_and_nothing_cluster_wide(
    helm: Any,
) -> None:
    objects = render(helm, "watchNamespace=shop")

    role = one(objects, "Role", "serinus")
    assert role["metadata"]["namespace"] == "shop"
    assert granted(role["rules"]) == WATCHED_RULES
    binding = one(objects, "RoleBinding", "serinus")
    assert binding["metadata"]["namespace"] == "shop"
    assert binding["subjects"][0]["namespace"] == RELEASE_NAMESPACE
    # Cluster-wide only the reviews the API needs (cluster-scoped by nature): TokenReview and
    # SubjectAccessReview through the built-in system:auth-delegator, no ClusterRole of its own.
    cluster_wide = [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    assert [(o["kind"], o["roleRef"]["name"]) for o in cluster_wide] == [
        ("ClusterRoleBinding", "system:auth-delegator")
    ]
    args = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=shop" in args
    assert "--all-namespaces" not in args


def test_leader_election_uses_one_named_lease_in_the_release_namespace(helm: Any) -> None:
    objects = render(helm)

    role = one(objects, "Role", "serinus-leader-election")
    assert role["metadata"]["namespace"] == RELEASE_NAMESPACE
    leases = [r for r in role["rules"] if r["resources"] == ["leases"]]
    assert leases == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["serinus-operator"],
            "verbs": ["get", "update"],
        },
    ]
    deployment = one(objects, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--leader-election" in args
    assert f"--lease-namespace={RELEASE_NAMESPACE}" in args
    assert deployment["spec"]["replicas"] == 2


def test_two_replicas_without_leader_election_are_refused(helm: Any) -> None:
    done = helm(
        "template", "serinus", str(CHART), "--set", "leaderElection.enabled=false", check=False
    )

    assert done.returncode != 0
    assert "replicaCount > 1 needs leaderElection.enabled" in done.stderr


@pytest.mark.parametrize("values", [(), ("watchNamespace=shop",)])
def test_no_wildcards_and_no_secrets_unless_notifications_need_them(
    helm: Any, values: tuple[str, ...]
) -> None:
    rules = all_rules(render(helm, *values))

    for rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), rule
    assert not [r for r in rules if "secrets" in r["resources"]]


@pytest.mark.parametrize("values", [(), ("watchNamespace=shop",)])
def test_jobs_for_analysis_are_granted_only_when_enabled(
    helm: Any, values: tuple[str, ...]
) -> None:
    assert ("batch", "jobs") not in granted(all_rules(render(helm, *values)))

    rules = granted(all_rules(render(helm, *values, "analysis.jobs=true")))
    assert {key: rules[key] for key in JOB_RULES} == JOB_RULES


def test_secret_access_for_notifications_is_get_only_and_can_be_limited_by_name(
    helm: Any,
) -> None:
    rules = all_rules(
        render(
            helm,
            "notifications.secretAccess=true",
            "notifications.secretNames={slack-token,smtp-password}",
        )
    )

    secrets = [r for r in rules if "secrets" in r["resources"]]
    assert secrets == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get"],
            "resourceNames": ["slack-token", "smtp-password"],
        }
    ]


def test_the_deployment_is_locked_down_and_probed(helm: Any) -> None:
    pod = one(render(helm), "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    assert container["image"] == "ghcr.io/serinus/serinus:0.1.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "http": 8686}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert {"--metrics-port=8080", "--api-port=8686"} <= set(container["args"])
    # The read-only root needs a writable /tmp.
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_a_latest_image_tag_is_refused(helm: Any) -> None:
    done = helm("template", "serinus", str(CHART), "--set", "image.tag=latest", check=False)

    assert done.returncode != 0
    assert "pin a version" in done.stderr


def test_the_service_exposes_metrics_and_api_and_the_service_monitor_is_opt_in(
    helm: Any,
) -> None:
    objects = render(helm)
    service = one(objects, "Service")
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {
        "metrics": 8080,
        "http": 8686,
    }
    assert not [o for o in objects if o["kind"] == "ServiceMonitor"]

    monitor = one(render(helm, "serviceMonitor.enabled=true"), "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_the_chart_ships_the_rollout_crd_as_generated(helm: Any) -> None:
    if not CRD.exists():
        pytest.skip("deploy/crds/rollouts.serinus.io.yaml is not generated yet")

    shown = [d for d in yaml.safe_load_all(helm("show", "crds", str(CHART)).stdout) if d]

    assert shown == [d for d in yaml.safe_load_all(CRD.read_text()) if d]
    rendered = render(helm, include_crds=True)
    assert one(rendered, "CustomResourceDefinition")["metadata"]["name"] == "rollouts.serinus.io"


def test_every_replica_reads_one_intent_key_from_a_secret(helm: Any) -> None:
    objects = render(helm)
    secret = one(objects, "Secret", "serinus-intent-key")
    assert len(base64.b64decode(secret["data"]["key"])) >= 32
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "intent-key")
    assert env["SERINUS_INTENT_KEY_FILE"] == mount["mountPath"] + "/key" and mount["readOnly"]
    volume = next(v for v in pod["volumes"] if v["name"] == "intent-key")
    assert volume["secret"]["secretName"] == "serinus-intent-key"
    without = render(helm, "api.enabled=false")
    assert not [o for o in without if o["kind"] == "Secret"]
    assert not [
        o for o in without if o["kind"] == "ClusterRoleBinding" and "auth" in o["metadata"]["name"]
    ]
