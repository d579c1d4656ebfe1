"""deploy/examples/shift-job.yaml: the seed's shifter Job, least privilege, with args the CLI takes.

The manifest is parsed; its Role must grant exactly get/update/patch on
virtualservices.networking.istio.io in the Job's namespace, bound to the Job's ServiceAccount.
Then the stand-in enforces that Role (an authorizer evaluating its rules, as the API server's
RBAC does) and the Job's container args run through the real `serinus` command against it, as
the pod would with its in-cluster config: the shift succeeds, while deleting the VirtualService,
writing another resource or touching another namespace is forbidden.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_stand_in.kube_fixtures import shared_schemas
from kube_stand_in.kubeapi import ApiError, ApiRequest, KubeApiStandIn
from typer.testing import CliRunner

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.resources import DESTINATION_RULES, VIRTUAL_SERVICES, ObjectRef
from serinus.core.errors import Forbidden
from serinus.entrypoints.cli import main

pytestmark = pytest.mark.integration

main._register()

JOB_FILE = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "shift-job.yaml"


def documents() -> dict[str, dict[str, Any]]:
    """The manifest's objects by kind (one of each)."""
    loaded = [d for d in yaml.safe_load_all(JOB_FILE.read_text()) if d]
    by_kind = {d["kind"]: d for d in loaded}
    assert len(by_kind) == len(loaded), "one object of each kind expected"
    return by_kind


class RoleAuthorizer:
    """Allow a request only when a rule of `role` (in its namespace) matches it."""

    def __init__(self, role: dict[str, Any]) -> None:
        self.namespace = role["metadata"]["namespace"]
        self.rules = role["rules"]

    def allows(self, request: ApiRequest) -> bool:
        resource = request.plural + (f"/{request.subresource}" if request.subresource else "")
        return request.namespace == self.namespace and any(
            request.group in rule.get("apiGroups", [])
            and resource in rule.get("resources", [])
            and request.verb in rule.get("verbs", [])
            and (not rule.get("resourceNames") or request.name in rule["resourceNames"])
            for rule in self.rules
        )

    def __call__(self, request: ApiRequest) -> None:
        if not self.allows(request):
            raise ApiError(
                403,
                "Forbidden",
                f"{request.plural}.{request.group} is forbidden: the shifter Role does not allow "
                f'{request.verb} in namespace "{request.namespace}"',
            )


def seed_virtual_service(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "game", "namespace": namespace},
        "spec": {
            "hosts": ["game.example.com"],
            "http": [
                {"name": "primary", "route": [{"destination": {"host": "old-server"}}]},
                {"name": "admin", "route": [{"destination": {"host": "optool"}}]},
            ],
        },
    }


def test_the_role_grants_only_get_update_patch_on_virtual_services_in_its_namespace() -> None:
    objects = documents()
    assert set(objects) == {"ServiceAccount", "Role", "RoleBinding", "Job"}
    namespace = objects["Job"]["metadata"]["namespace"]
    assert {o["metadata"]["namespace"] for o in objects.values()} == {namespace}

    role = objects["Role"]
    assert role["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert role["rules"] == [
        {
            "apiGroups": ["networking.istio.io"],
            "resources": ["virtualservices"],
            "verbs": ["get", "update", "patch"],
        }
    ]
    binding = objects["RoleBinding"]
    account = objects["ServiceAccount"]["metadata"]["name"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": namespace}
    ]
    pod = objects["Job"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert "command" not in container  # the image's entrypoint is `serinus`
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True


@pytest.fixture
def shifter_cluster(tmp_path: Path) -> Iterator[tuple[KubeApiStandIn, Path, str]]:
    """The stand-in enforcing the Job's Role; a kubeconfig in the Job's namespace (the pod's)."""
    objects = documents()
    namespace = objects["Job"]["metadata"]["namespace"]
    api = KubeApiStandIn(schemas=shared_schemas())
    with api.serving_in_thread():
        api.put(VIRTUAL_SERVICES, seed_virtual_service(namespace))
        api.put(VIRTUAL_SERVICES, seed_virtual_service("other"))
        api.add_hook(RoleAuthorizer(objects["Role"]))
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", namespace=namespace)
        yield api, kubeconfig, namespace


def test_the_jobs_args_shift_the_virtual_service_under_its_role(
    shifter_cluster: tuple[KubeApiStandIn, Path, str],
) -> None:
    api, kubeconfig, namespace = shifter_cluster
    container = documents()["Job"]["spec"]["template"]["spec"]["containers"][0]

    result = CliRunner().invoke(main.app, [*container["args"], "--kubeconfig", str(kubeconfig)])

    assert result.exit_code == 0, result.output
    vs = api.stored(VIRTUAL_SERVICES, namespace, "game")
    assert vs is not None
    primary, admin = vs["spec"]["http"]
    assert [(d["destination"]["host"], d["weight"]) for d in primary["route"]] == [
        ("old-server", 90),
        ("new-server", 10),
    ]
    assert admin["route"] == [{"destination": {"host": "optool"}}]
    assert {r.verb for r in api.requests} == {"get", "update"}


def test_the_role_forbids_deleting_writing_other_resources_and_other_namespaces(
    shifter_cluster: tuple[KubeApiStandIn, Path, str],
) -> None:
    api, kubeconfig, namespace = shifter_cluster

    async def attempts() -> list[str]:
        refused: list[str] = []
        async with KubeClient.from_kubeconfig(kubeconfig) as client:
            tries = {
                "delete": client.delete(ObjectRef(VIRTUAL_SERVICES, namespace, "game")),
                "list": client.list(VIRTUAL_SERVICES, namespace),
                "create destinationrule": client.create(
                    DESTINATION_RULES,
                    namespace,
                    {
                        "apiVersion": "networking.istio.io/v1",
                        "kind": "DestinationRule",
                        "metadata": {"name": "game"},
                        "spec": {"host": "game"},
                    },
                ),
                "get in another namespace": client.get(
                    ObjectRef(VIRTUAL_SERVICES, "other", "game")
                ),
            }
            for label, attempt in tries.items():
                try:
                    await attempt
                except Forbidden:
                    refused.append(label)
        return refused

    assert asyncio.run(attempts()) == [
        "delete",
        "list",
        "create destinationrule",
        "get in another namespace",
    ]
    assert api.stored(VIRTUAL_SERVICES, namespace, "game") is not None
    assert api.stored(DESTINATION_RULES, namespace, "game") is None
