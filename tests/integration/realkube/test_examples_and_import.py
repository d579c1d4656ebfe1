"""The Kubernetes examples and an imported Argo Rollout run on the real API server.

`examples/kubernetes/*` are applied as written (only their namespace is moved to a fresh one and
the chart path made absolute, the minutes of its
delays shortened to a second), and an Argo Rollouts manifest converted by `serinus import` is
applied with the Argo manifest's own Services and VirtualService. One operator with the chart's
RBAC (all namespaces) drives them: a first version to Completed, then a new version through its
steps with the gates passed through the cluster-mode CLI, the router's own objects read back.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from real_kube import GATEWAY_API_CRDS, ISTIO_CRDS, RealKube
from tests.contract.platforms.kube_controller import DeploymentController
from tests.integration.operator.world import OperatorProcess, serinus, until
from tests.integration.realkube.chart import deploy_chart_rbac, helm_binary, operator_kubeconfig

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import HTTP_ROUTES, VIRTUAL_SERVICES, ObjectRef
from serinus.adapters.stores.rollout_resource import ROLLOUTS
from serinus.app.importing import import_documents

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("realkube-examples")]

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "kubernetes"
UPSTREAM = ROOT / "third_party" / "examples-upstream"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def moved(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    copied = copy.deepcopy(obj)
    copied["metadata"]["namespace"] = namespace
    return copied


@dataclass(frozen=True)
class Cluster:
    kube: RealKube
    operator: OperatorProcess
    folder: Path


@pytest.fixture(scope="module")
def cluster(real_kube: RealKube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("examples")
    real_kube.install_crds(ISTIO_CRDS, GATEWAY_API_CRDS)
    release = real_kube.new_namespace("serinus-system")
    rbac = deploy_chart_rbac(real_kube, "serinus", release, folder / "helm")
    kubeconfig = operator_kubeconfig(real_kube, rbac, "serinus-0", folder / "kubeconfig")
    operator = OperatorProcess(
        kubeconfig,
        folder / "operator",
        "--lease-namespace",
        release,
        watch=("--all-namespaces",),
        env={"SERINUS_HELM": helm_binary()},
    )
    yield Cluster(real_kube, operator, folder)


async def phase(client: KubeClient, ref: ObjectRef, version: str) -> str:
    rollout = await client.get_or_none(ref)
    if rollout is None or rollout["spec"]["version"] != version:
        return ""
    return str((rollout.get("status") or {}).get("phase", ""))


async def reach(
    cluster: Cluster,
    client: KubeClient,
    ref: ObjectRef,
    version: str,
    wanted: str,
    green: int | None = None,
) -> None:
    """Wait for the phase (and, for a pause among several, green's desired weight)."""

    async def reached() -> bool:
        if await phase(client, ref, version) != wanted:
            return False
        status = (await client.get(ref)).get("status") or {}
        return green is None or (status.get("weights") or {}).get("green") == green

    await until(reached, f"{ref.name} {version} {wanted}", 120, cluster.operator.log)


async def cli(cluster: Cluster, *args: str) -> None:
    code, output = await serinus(*args, kubeconfig=cluster.kube.admin_kubeconfig)
    assert code == 0, f"serinus {' '.join(args)}: {output}"


def istio_weights(vs: dict[str, Any], route: str, hosts: dict[str, str]) -> dict[str, int]:
    [entry] = [r for r in vs["spec"]["http"] if r.get("name") == route]
    by_host = {d["destination"]["host"]: d.get("weight", 0) for d in entry["route"]}
    return {color: by_host.get(host, 0) for color, host in hosts.items()}


def shorten_scale_down(rollout: dict[str, Any], written: str) -> None:
    """The example keeps blue for minutes (a fast rollback); the test waits one second."""
    strategy = rollout["spec"]["strategy"]["blueGreenCanary"]
    assert strategy["scaleDownDelay"] == written
    strategy["scaleDownDelay"] = "1s"


def new_version(rollout: dict[str, Any], version: str, image: str) -> Callable[[Any], Any]:
    def change(current: dict[str, Any]) -> dict[str, Any]:
        spec = copy.deepcopy(current["spec"])
        spec["version"] = version
        spec["workload"]["deployment"]["template"]["spec"]["containers"][0]["image"] = image
        return {**current, "spec": spec}

    return change


async def deployment_istio(cluster: Cluster, client: KubeClient) -> dict[str, dict[str, int]]:
    namespace = cluster.kube.new_namespace("shop")
    folder = EXAMPLES / "deployment-istio"
    for obj in documents(folder / "virtualservice.yaml"):
        cluster.kube.apply(moved(obj, namespace))
    [rollout] = [moved(d, namespace) for d in documents(folder / "rollout.yaml")]
    shorten_scale_down(rollout, "5m")
    ref = ObjectRef(ROLLOUTS, namespace, "web")
    vs = ObjectRef(VIRTUAL_SERVICES, namespace, "web")
    hosts = {"blue": "web-blue", "green": "web-green"}
    seen: dict[str, dict[str, int]] = {}
    async with DeploymentController(client, namespace, period=0.25).running():
        await client.create(ROLLOUTS, namespace, rollout)
        await reach(cluster, client, ref, "6.5.0", "Completed")
        seen["first"] = istio_weights(await client.get(vs), "primary", hosts)
        change = new_version(rollout, "6.5.1", "ghcr.io/stefanprodan/podinfo:6.5.1")
        await client.read_modify_write(ref, change)
        await reach(cluster, client, ref, "6.5.1", "AwaitingJudgement")
        seen["gate"] = istio_weights(await client.get(vs), "primary", hosts)
        await cli(cluster, "judge", "web", "-n", namespace, "--approve")
        await reach(cluster, client, ref, "6.5.1", "Completed")
        seen["done"] = istio_weights(await client.get(vs), "primary", hosts)
    return seen


async def helm_gateway_api(cluster: Cluster, client: KubeClient) -> dict[str, dict[str, int]]:
    namespace = cluster.kube.new_namespace("shop")
    folder = EXAMPLES / "helm-gatewayapi"
    for obj in documents(folder / "httproute.yaml"):
        cluster.kube.apply(moved(obj, namespace))
    [rollout] = [moved(d, namespace) for d in documents(folder / "rollout.yaml")]
    rollout["spec"]["workload"]["helm"]["chart"] = str(folder / "chart")
    steps = rollout["spec"]["strategy"]["blueGreenCanary"]["steps"]
    assert steps[1] == {"pause": {"duration": "1m"}}
    steps[1] = {"pause": {"duration": "1s"}}  # the example's minute, shortened for the test
    shorten_scale_down(rollout, "2m")
    ref = ObjectRef(ROLLOUTS, namespace, "web")
    route = ObjectRef(HTTP_ROUTES, namespace, "web")

    async def weights() -> dict[str, int]:
        refs = (await client.get(route))["spec"]["rules"][0]["backendRefs"]
        by_name = {r["name"]: r.get("weight", 1) for r in refs}
        return {"blue": by_name.get("web-blue", 0), "green": by_name.get("web-green", 0)}

    seen: dict[str, dict[str, int]] = {}
    async with DeploymentController(client, namespace, period=0.25).running():
        await client.create(ROLLOUTS, namespace, rollout)
        await reach(cluster, client, ref, "6.5.0", "Completed")
        seen["first"] = await weights()
        await client.read_modify_write(
            ref, lambda c: {**c, "spec": {**c["spec"], "version": "6.5.1"}}
        )
        await reach(cluster, client, ref, "6.5.1", "Paused", green=50)  # past the timed pause
        seen["paused"] = await weights()
        await cli(cluster, "promote", "web", "-n", namespace)
        await reach(cluster, client, ref, "6.5.1", "Completed")
        seen["done"] = await weights()
    return seen


async def imported_argo(cluster: Cluster, client: KubeClient) -> dict[str, dict[str, int]]:
    namespace = cluster.kube.new_namespace("imported")
    source = documents(UPSTREAM / "argo-rollouts_test_e2e_istio_istio-host-split.yaml")
    result = import_documents(source)
    assert not result.report.failed
    [rollout] = [moved(d, namespace) for d in result.documents if d["kind"] == "Rollout"]
    for obj in source:
        if obj["kind"] in ("Service", "VirtualService"):
            cluster.kube.apply(moved(obj, namespace))
    name = rollout["metadata"]["name"]
    ref = ObjectRef(ROLLOUTS, namespace, name)
    vs = ObjectRef(VIRTUAL_SERVICES, namespace, "istio-host-split-vsvc")
    hosts = rollout["spec"]["trafficRouting"]["istio"]["hosts"]
    seen: dict[str, dict[str, int]] = {}
    async with DeploymentController(client, namespace, period=0.25).running():
        await client.create(ROLLOUTS, namespace, rollout)
        await reach(cluster, client, ref, "1.19-alpine", "Completed")
        seen["first"] = istio_weights(await client.get(vs), "primary", hosts)
        await client.read_modify_write(
            ref, new_version(rollout, "1.20-alpine", "nginx:1.20-alpine")
        )
        await reach(cluster, client, ref, "1.20-alpine", "Paused")
        seen["paused"] = istio_weights(await client.get(vs), "primary", hosts)
        await cli(cluster, "promote", name, "-n", namespace)
        await reach(cluster, client, ref, "1.20-alpine", "Completed")
        seen["done"] = istio_weights(await client.get(vs), "primary", hosts)
    return seen


@pytest.fixture(scope="module")
def traces(cluster: Cluster) -> dict[str, dict[str, dict[str, int]] | BaseException]:
    async def drive() -> dict[str, dict[str, dict[str, int]] | BaseException]:
        await cluster.operator.start()
        try:
            async with cluster.kube.client() as client:
                scenarios = {
                    "deployment-istio": deployment_istio(cluster, client),
                    "helm-gatewayapi": helm_gateway_api(cluster, client),
                    "imported-argo": imported_argo(cluster, client),
                }
                results = await asyncio.gather(*scenarios.values(), return_exceptions=True)
                return dict(zip(scenarios, results, strict=True))
        finally:
            await cluster.operator.stop()

    return asyncio.run(drive())


def _result(traces: dict[str, Any], name: str) -> dict[str, dict[str, int]]:
    result = traces[name]
    if isinstance(result, BaseException):
        raise result
    return dict(result)


def test_deployment_istio_example(traces: dict[str, Any]) -> None:
    assert _result(traces, "deployment-istio") == {
        "first": {"blue": 100, "green": 0},
        "gate": {"blue": 90, "green": 10},
        "done": {"blue": 0, "green": 100},
    }


def test_helm_gateway_api_example(traces: dict[str, Any]) -> None:
    assert _result(traces, "helm-gatewayapi") == {
        "first": {"blue": 100, "green": 0},
        "paused": {"blue": 50, "green": 50},
        "done": {"blue": 0, "green": 100},
    }


def test_an_imported_argo_rollout_runs(traces: dict[str, Any]) -> None:
    assert _result(traces, "imported-argo") == {
        "first": {"blue": 100, "green": 0},
        "paused": {"blue": 90, "green": 10},
        "done": {"blue": 0, "green": 100},
    }
