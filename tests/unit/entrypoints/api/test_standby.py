"""The rollout detail's versions without user traffic: the preview, only while it is open, and
the version a rollback window keeps, with the roles the replica table shows."""

from __future__ import annotations

from typing import Any

from api_world import rollout

from serinus.core.documents import validate_model
from serinus.core.spec import Rollout
from serinus.core.status import Phase, Revision, RollbackWindowState, RolloutStatus
from serinus.entrypoints.api.standby import preview, rollback_window
from serinus.entrypoints.api.views import summary

BLUE, GREEN = Revision(version="v1", color="blue"), Revision(version="v2", color="green")


def blue_green(routing: dict[str, Any]) -> Rollout:
    document = rollout("bg", []).model_dump(mode="json", by_alias=True, exclude_none=True)
    document["spec"]["strategy"] = {"blueGreen": {"autoPromotion": False}}
    document["spec"]["trafficRouting"] = routing
    document["spec"]["workload"]["process"]["replicas"] = 3
    return validate_model(Rollout, document, "test")


def previewing(**changes: Any) -> RolloutStatus:
    status = RolloutStatus(
        phase=Phase.PAUSED,
        stable=BLUE,
        canary=GREEN,
        weights={"blue": 100, "green": 0},
        replicas={"blue": 3, "green": 3},
        ready={"blue": 3, "green": 2},
        preview="green",
    )
    return status.model_copy(update=changes)


def test_the_preview_is_shown_with_its_url_only_while_it_is_open() -> None:
    spec = blue_green({"haproxy": {"port": 18080, "previewPort": 18081}})
    shown = preview(spec, previewing())
    assert shown is not None
    assert (shown.version, shown.color, shown.url) == ("v2", "green", "http://127.0.0.1:18081/")
    assert [c.role for c in summary(spec, previewing()).colors] == ["stable", "preview"]
    assert preview(spec, previewing(preview=None)) is None
    assert preview(spec, previewing(phase=Phase.ABORTED)) is None
    assert preview(spec, None) is None
    elsewhere = preview(blue_green({"haproxy": {"port": 18080}}), previewing())
    assert elsewhere is not None and elsewhere.url is None  # reached through the router's entry


def test_the_rollback_window_names_the_kept_version_replicas_and_deadline() -> None:
    spec = blue_green({"haproxy": {"port": 18080}})
    completed = RolloutStatus(
        phase=Phase.COMPLETED,
        stable=GREEN,
        weights={"green": 100, "blue": 0},
        replicas={"green": 3, "blue": 1},
        ready={"green": 3, "blue": 0},
        rollback_window=RollbackWindowState(color="blue", version="v1", replicas=1, until=2000.0),
    )
    window = rollback_window(spec, completed)
    assert window is not None
    assert window.model_dump(by_alias=True) == {
        "version": "v1",
        "color": "blue",
        "replicas": 1,
        "fullReplicas": 3,
        "ready": 0,
        "until": 2000.0,
    }
    assert [(c.color, c.role) for c in summary(spec, completed).colors] == [
        ("blue", "kept"),
        ("green", "stable"),
    ]
    assert rollback_window(spec, completed.model_copy(update={"rollback_window": None})) is None
