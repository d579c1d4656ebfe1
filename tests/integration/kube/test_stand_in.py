"""The client against the API stand-in: the API semantics serinus relies on, end to end.

Also shows the stand-in serves the official client (what kopf and the operator use) from a
kubeconfig, in a thread for blocking code.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from kube_stand_in.kubeapi import KubeApiStandIn

from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.connection import Connection
from serinus.adapters.kube.errors import AlreadyExists, Rejected, StaleWrite
from serinus.adapters.kube.resources import DEPLOYMENTS, SERVICES, VIRTUAL_SERVICES, ObjectRef
from serinus.core.errors import Forbidden, NotFound

pytestmark = pytest.mark.integration


def deployment(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"replicas": 2},
        "status": {"readyReplicas": 99},
    }


async def test_create_get_replace_with_resource_versions(kube_client: KubeClient) -> None:
    created = await kube_client.create(DEPLOYMENTS, "shop", deployment("web"))
    assert "status" not in created, "status is a subresource: ignored on create"
    ref = ObjectRef(DEPLOYMENTS, "shop", "web")
    with pytest.raises(AlreadyExists):
        await kube_client.create(DEPLOYMENTS, "shop", deployment("web"))
    changed = {**created, "spec": {"replicas": 3}}
    replaced = await kube_client.replace(ref, changed)
    assert int(replaced["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )
    assert replaced["metadata"]["generation"] == 2
    with pytest.raises(StaleWrite, match=re.escape('deployments.apps "web" in namespace "shop"')):
        await kube_client.replace(ref, changed)  # the resourceVersion read before is stale now


async def test_status_is_written_only_through_its_subresource(kube_client: KubeClient) -> None:
    await kube_client.create(DEPLOYMENTS, "shop", deployment("web"))
    ref = ObjectRef(DEPLOYMENTS, "shop", "web")
    await kube_client.patch(ref, {"status": {"readyReplicas": 5}, "spec": {"replicas": 4}})
    assert "status" not in await kube_client.get(ref)
    patched = await kube_client.patch(
        ref, {"status": {"readyReplicas": 2}, "spec": {"replicas": 9}}, subresource="status"
    )
    assert patched["status"] == {"readyReplicas": 2}
    assert patched["spec"] == {"replicas": 4}
    assert patched["metadata"]["generation"] == 2, "a status change is not a new generation"


async def test_json_patch_labels_and_selectors(kube_client: KubeClient) -> None:
    for name, color in (("web-blue", "blue"), ("web-green", "green")):
        await kube_client.create(DEPLOYMENTS, "shop", deployment(name, {"color": color}))
    await kube_client.patch(
        ObjectRef(DEPLOYMENTS, "shop", "web-green"),
        [{"op": "add", "path": "/metadata/labels/track", "value": "canary"}],
        kind="json",
    )
    listed = await kube_client.list(DEPLOYMENTS, "shop", label_selector="color in (green),track")
    assert [o["metadata"]["name"] for o in listed.items] == ["web-green"]
    everywhere = await kube_client.list(DEPLOYMENTS, None, field_selector="metadata.name=web-blue")
    assert [o["metadata"]["name"] for o in everywhere.items] == ["web-blue"]


async def test_finalizers_delay_deletion(kube_client: KubeClient) -> None:
    body = deployment("web")
    body["metadata"]["finalizers"] = ["serinus.io/teardown"]
    await kube_client.create(DEPLOYMENTS, "shop", body)
    ref = ObjectRef(DEPLOYMENTS, "shop", "web")
    marked = await kube_client.delete(ref)
    assert marked is not None and marked["metadata"]["deletionTimestamp"]
    await kube_client.patch(ref, {"metadata": {"finalizers": None}})
    assert await kube_client.get_or_none(ref) is None
    assert await kube_client.delete(ref, missing_ok=True) is None
    with pytest.raises(NotFound, match=re.escape('deployments.apps "web"')):
        await kube_client.delete(ref)


async def test_watch_resumes_after_a_resource_version_and_ends_at_its_timeout(
    kube_client: KubeClient,
) -> None:
    await kube_client.create(SERVICES, "shop", {"metadata": {"name": "before"}})
    listed = await kube_client.list(SERVICES, "shop")

    async def collect() -> list[tuple[str, str]]:
        return [
            (event.type, event.object["metadata"]["name"])
            async for event in kube_client.watch(
                SERVICES, "shop", resource_version=listed.resource_version, timeout_seconds=1
            )
        ]

    watching = asyncio.create_task(collect())
    await asyncio.sleep(0.1)
    await kube_client.create(SERVICES, "shop", {"metadata": {"name": "after"}})
    await kube_client.create(SERVICES, "other", {"metadata": {"name": "elsewhere"}})
    await kube_client.delete(ObjectRef(SERVICES, "shop", "before"))
    assert await asyncio.wait_for(watching, 10) == [("ADDED", "after"), ("DELETED", "before")]


async def test_forbidden_names_verb_resource_and_namespace(
    kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    kube_api.forbid(verb="list", plural="services", namespace="prod")
    await kube_client.list(SERVICES, "shop")
    with pytest.raises(Forbidden) as raised:
        await kube_client.list(SERVICES, "prod")
    message = str(raised.value)
    assert "may not list services" in message and 'namespace "prod"' in message


async def test_wrong_credentials_are_unauthorized(kube_api: KubeApiStandIn) -> None:
    async with KubeClient(Connection.plain(kube_api.url, token="stolen")) as kube:
        with pytest.raises(Forbidden, match="rejected serinus's credentials"):
            await kube.get(ObjectRef(SERVICES, "shop", "web"))


async def test_crd_writes_are_validated_against_the_real_schema(kube_client: KubeClient) -> None:
    assert kube_client  # the stand-in of the fixture loads third_party/schemas
    bad = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "web"},
        "spec": {"http": [{"route": [{"destination": {"host": "a"}, "weight": 120}]}]},
    }
    with pytest.raises(Rejected, match=r"outside 0\.\.100"):
        await kube_client.create(VIRTUAL_SERVICES, "shop", bad)


@pytest.mark.parametrize(
    "path",
    ["/version", "/version/", "/apis", "/apis/", "/api/v1", "/apis/networking.istio.io/v1alpha3/"],
)
async def test_discovery_with_and_without_trailing_slash(
    kube_api: KubeApiStandIn, path: str
) -> None:
    headers = {"Authorization": f"Bearer {kube_api.token}"}
    async with httpx.AsyncClient(base_url=kube_api.url, headers=headers) as http:
        answer = await http.get(path)
    assert answer.status_code == 200, answer.text


def test_the_official_client_works_from_the_kubeconfig_in_thread_mode(
    kube_api_thread: KubeApiStandIn,
) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(kube_api_thread.kubeconfig_path))
    with api_client:
        core = client.CoreV1Api(api_client)
        core.create_namespaced_service("shop", {"metadata": {"name": "web"}})
        custom = client.CustomObjectsApi(api_client)
        custom.create_namespaced_custom_object(
            "networking.istio.io",
            "v1",
            "shop",
            "virtualservices",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "web"},
                "spec": {"hosts": ["web"]},
            },
        )
        names = [s.metadata.name for s in core.list_namespaced_service("shop").items]
        found = custom.list_namespaced_custom_object(
            "networking.istio.io", "v1alpha3", "shop", "virtualservices"
        )
    assert names == ["web"]
    assert found["items"][0]["apiVersion"] == "networking.istio.io/v1alpha3"
