"""The chart as shipped (all namespaces) on the real API server drives every workload x router.

The chart's ServiceAccount, ClusterRole, Role and bindings are applied as `helm template`
renders them; `serinus operator --all-namespaces` runs on the host with a real token of that
ServiceAccount. One operator drives all eight pipelines at once, each in its own namespace (see
pipeline.py). The API server's audit log then shows every request the operator made: none was
refused, and the RBAC the chart grants is exactly what the code used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from real_kube import GATEWAY_API_CRDS, ISTIO_CRDS, AuditEvent, RealKube
from tests.integration.operator.world import ROUTERS, OperatorProcess
from tests.integration.realkube.chart import (
    ChartRbac,
    deploy_chart_rbac,
    helm_binary,
    operator_kubeconfig,
)
from tests.integration.realkube.grants import granted, used
from tests.integration.realkube.pipeline import WORKLOADS, Pipeline, Trace, run_all

# The fixture drives eight pipelines in the first test's set-up: minutes on a busy 2-core machine.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("realkube-all-namespaces"),
    pytest.mark.timeout(900),
]

COMBOS = [(w, r) for w in WORKLOADS for r in sorted(ROUTERS)]

# Grants the code needs on paths the pipeline does not take, each with the call that needs it.
NOT_IN_THE_PIPELINE = {
    ("apps", "deployments", "update"): "deployment/helm platform: provisioning a color that "
    "exists (a resumed reconcile) merges into it with read_modify_write",
    ("", "services", "update"): "the same, for a color's Service",
    ("", "configmaps", "update"): "the same, for the helm platform's inventory and a chart's "
    "ConfigMaps",
    ("", "configmaps", "list"): "helm platform: tearing a color down lists each kind of its "
    "inventory; the test chart has no ConfigMap",
    ("serinus.io", "rollouts", "get"): "the REST API of a standby replica, which runs no "
    "watch cache (the leader's reads come from its cache)",
}
# Grants of paths the pipeline takes in some runs only.
SOMETIMES_IN_THE_PIPELINE = {
    ("serinus.io", "rollouts/status", "get"): "the store after a 409 on its status write (the "
    "CLI's judge or abort landed between the operator's read and write): the retry reads the "
    "server, not the cache",
}


@dataclass(frozen=True)
class Run:
    rbac: ChartRbac
    results: dict[tuple[str, str], Trace | BaseException]
    requests: list[AuditEvent]  # every request of the operator's ServiceAccount
    log: Path


@pytest.fixture(scope="module")
def run(real_kube: RealKube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("chart-all")
    real_kube.install_crds(ISTIO_CRDS, GATEWAY_API_CRDS)
    release_namespace = real_kube.new_namespace("serinus-system")
    rbac = deploy_chart_rbac(real_kube, "serinus", release_namespace, folder / "helm")
    kubeconfig = operator_kubeconfig(real_kube, rbac, "serinus-0", folder / "kubeconfig")
    namespaces = {combo: real_kube.new_namespace("-".join(combo).lower()) for combo in COMBOS}
    operator = OperatorProcess(
        kubeconfig,
        folder / "operator",
        "--lease-namespace",
        release_namespace,
        watch=("--all-namespaces",),
        env={"SERINUS_HELM": helm_binary()},
    )

    async def drive() -> dict[tuple[str, str], Trace | BaseException]:
        await operator.start()
        try:
            async with real_kube.client() as client:
                pipelines = [
                    Pipeline(
                        real_kube, client, w, r, namespaces[w, r], folder / f"{w}-{r}", operator.log
                    )
                    for w, r in COMBOS
                ]
                return await run_all(pipelines)
        finally:
            await operator.stop()

    results = asyncio.run(drive())
    yield Run(rbac, results, real_kube.audit_events(rbac.user), operator.log)


def expected_weights() -> dict[str, dict[str, int]]:
    """The seed's pipeline, colors alternating: v1 blue, v2 green, v3 blue (aborted)."""
    return {
        "v1": {"blue": 100},
        "v2 at the gate": {"blue": 90, "green": 10},
        "v2 completed": {"green": 100},
        "v3 at the gate": {"green": 90, "blue": 10},
        "v3 aborted": {"green": 100},
    }


@pytest.mark.parametrize(("workload", "router"), COMBOS)
def test_the_seed_pipeline_and_an_abort(run: Run, workload: str, router: str) -> None:
    result = run.results[workload, router]
    if isinstance(result, BaseException):
        raise result
    print(
        f"\n{workload} x {router}: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    )
    seen = {
        stage: {c: w for c, w in weights.items() if w} for stage, weights in result.weights.items()
    }
    assert seen == expected_weights()
    # The stable color's pods (helm's from the chart's own templates) carry the rollout label.
    assert all(result.labelled_pods.values()), result.labelled_pods


def test_no_request_of_the_operator_was_refused(run: Run) -> None:
    refused = [e for e in run.requests if e.code in (401, 403)]
    assert not refused, [(e.verb, e.resource, e.subresource, e.namespace) for e in refused[:10]]
    assert run.requests, "the audit log holds the operator's requests"


def test_the_chart_grants_exactly_what_the_operator_used(run: Run) -> None:
    grants = granted(run.rbac.rules("ClusterRole") + run.rbac.rules("Role"))
    calls = used(run.requests)
    assert calls - grants == set(), "used but not granted"
    unused = grants - calls - set(SOMETIMES_IN_THE_PIPELINE)
    assert unused == set(NOT_IN_THE_PIPELINE), "granted but never used"
    assert set(SOMETIMES_IN_THE_PIPELINE) <= grants


# What the drivers read through the watch cache (drivers.CACHED).
CACHED_RESOURCES = {
    "rollouts", "deployments", "pods", "services", "virtualservices", "destinationrules",
    "httproutes", "ingresses",
}  # fmt: skip


def test_every_namespace_is_watched_through_one_informer_per_kind(run: Run) -> None:
    """Watching all namespaces, the cache's informers are cluster-wide: no LIST or WATCH of a
    cached kind names a namespace (one per namespace and kind before)."""
    # An informer lists and watches the whole collection; a read made before it has synced
    # goes to the server with the platform's label selector (not the informer's).
    informer_calls = [
        e
        for e in run.requests
        if e.resource in CACHED_RESOURCES
        and e.verb in ("list", "watch")
        and not e.name
        and "labelSelector" not in e.uri
    ]
    namespaced = {(e.verb, e.resource, e.namespace) for e in informer_calls if e.namespace}
    assert namespaced == set()
    watched = {e.resource for e in informer_calls if e.verb == "watch"}
    assert {"rollouts", "deployments", "pods"} <= watched, watched
