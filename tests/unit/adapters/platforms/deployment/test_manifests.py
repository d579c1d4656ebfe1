"""The deployment platform's objects and how a color's state is read (pure functions)."""

from __future__ import annotations

from typing import Any

from serinus.adapters.platforms.deployment import manifests
from serinus.adapters.platforms.kube_workloads import color_state, deployment_ready, label_value
from serinus.core.workload_spec import DeploymentWorkload

WORKLOAD = DeploymentWorkload.model_validate(
    {"template": {"spec": {"containers": [{"name": "g", "image": "g:1"}]}}}
)


def test_merge_writes_only_serinus_fields_and_reports_no_change() -> None:
    desired = manifests.deployment("game", WORKLOAD, "blue", "v1", 2)
    current = {**desired, "metadata": {**desired["metadata"], "uid": "u"}}
    current["spec"] = {**desired["spec"], "revisionHistoryLimit": 10}
    assert manifests.merged(current, desired) is None
    scaled = manifests.deployment("game", WORKLOAD, "blue", "v1", 4)
    updated = manifests.merged(current, scaled)
    assert updated is not None
    assert updated["spec"]["replicas"] == 4
    assert updated["spec"]["revisionHistoryLimit"] == 10


def deployment(generation: int, observed: int, updated: int, available: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "game-blue", "generation": generation, "annotations": {}},
        "spec": {"replicas": 3},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "availableReplicas": available,
        },
    }


def test_ready_is_the_updated_and_available_replicas_of_a_current_status() -> None:
    assert deployment_ready(deployment(2, 2, 3, 3)) == 3
    assert deployment_ready(deployment(2, 2, 1, 3)) == 1  # old pods still serve
    assert deployment_ready(deployment(3, 2, 3, 3)) == 0  # the status predates the spec


def test_a_crash_loop_is_the_colors_failure_and_nothing_counts_ready() -> None:
    pod = {
        "metadata": {"name": "game-blue-1", "labels": {"serinus.io/version": "v1"}},
        "status": {
            "containerStatuses": [
                {"name": "g", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]
        },
    }
    state = color_state([deployment(1, 1, 3, 3)], [pod])
    assert state.failure == "pod game-blue-1 container g: CrashLoopBackOff"
    assert state.ready == 0


def test_versions_become_valid_label_values() -> None:
    assert label_value("1.4.2") == "1.4.2"
    assert label_value("v1+build.7_") == "v1-build.7"
    assert len(label_value("x" * 80)) == 63
