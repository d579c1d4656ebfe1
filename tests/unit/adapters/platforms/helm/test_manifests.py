"""Labelling, scaling, merging and the inventory of rendered objects."""

from __future__ import annotations

from typing import Any

from serinus.adapters.platforms.helm import manifests

RENDERED: list[dict[str, Any]] = [
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "game-green-game", "labels": {"app": "game"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "game"}},
            "template": {"metadata": {"labels": {"app": "game"}}, "spec": {"containers": []}},
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "game-green-game"},
        "spec": {"selector": {"app": "game"}, "ports": [{"port": 80}]},
    },
    {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"}},
]


def test_every_object_is_labelled_and_workloads_scaled_and_selected_by_color() -> None:
    prepared = manifests.prepared(RENDERED, "game", "green", "1.4.3", 5)
    for obj in prepared:
        labels = obj["metadata"]["labels"]
        assert labels["serinus.io/rollout"] == "game"
        assert labels["serinus.io/color"] == "green"
        assert labels["serinus.io/version"] == "1.4.3"
    deployment, service, _ = prepared
    assert deployment["spec"]["replicas"] == 5
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app": "game",
        "serinus.io/rollout": "game",
        "serinus.io/color": "green",
    }
    assert deployment["spec"]["template"]["metadata"]["labels"]["serinus.io/color"] == "green"
    assert service["spec"]["selector"]["serinus.io/color"] == "green"
    assert RENDERED[0]["spec"]["replicas"] == 2  # the render (cached) is not modified


def test_resources_and_scope_from_api_version_and_kind() -> None:
    ingress = manifests.resource_of(RENDERED[2])
    assert (ingress.group, ingress.version) == ("networking.k8s.io", "v1")
    assert ingress.plural == "ingresses"
    rbac = "rbac.authorization.k8s.io/v1"
    role = manifests.resource_of({"apiVersion": rbac, "kind": "ClusterRole"})
    assert not role.namespaced and role.plural == "clusterroles"
    assert manifests.resource_of(RENDERED[1]).group == ""


def test_merge_keeps_the_assigned_cluster_ip_and_others_labels_and_detects_no_change() -> None:
    desired = manifests.prepared(RENDERED, "game", "green", "v1", 1)[1]
    current = {
        **desired,
        "metadata": {**desired["metadata"], "labels": {"team": "x"}, "resourceVersion": "7"},
        "spec": {**desired["spec"], "clusterIP": "10.0.0.9"},
    }
    updated = manifests.merged(current, desired)
    assert updated is not None
    assert updated["spec"]["clusterIP"] == "10.0.0.9"
    assert updated["metadata"]["labels"]["team"] == "x"
    assert manifests.merged(updated, desired) is None


def test_the_inventory_round_trips() -> None:
    applied = [manifests.applied(obj, "games") for obj in RENDERED]
    configmap = manifests.inventory("game-green-serinus", "game", "green", "v1", applied)
    assert manifests.inventory_objects(configmap) == applied
    assert applied[0].namespace == "games"
