"""The rollout detail's versions without user traffic: the preview, only while it is open, and
the version a rollback window keeps, with the roles the replica table shows."""

from __future__ import annotations

from typing import Any

from api_world import kept_after_completion, previewing, rollout

from serinus.core.documents import validate_model
from serinus.core.spec import Rollout
from serinus.core.status import Phase, RolloutStatus
from serinus.entrypoints.api.standby import preview, rollback_window
from serinus.entrypoints.api.views import summary


def blue_green(routing: dict[str, Any]) -> Rollout:
    document = rollout("bg", []).model_dump(mode="json", by_alias=True, exclude_none=True)
    document["spec"]["strategy"] = {"blueGreen": {"autoPromotion": False}}
    document["spec"]["trafficRouting"] = routing
    document["spec"]["workload"]["process"]["replicas"] = 3
    return validate_model(Rollout, document, "test")


def open_preview(**changes: Any) -> RolloutStatus:
    return previewing().model_copy(update=changes)


def test_the_preview_is_shown_with_its_url_only_while_it_is_open() -> None:
    spec = blue_green({"haproxy": {"port": 18080, "previewPort": 18081}})
    shown = preview(spec, open_preview())
    assert shown is not None
    assert (shown.version, shown.color, shown.url) == ("v2", "green", "http://127.0.0.1:18081/")
    assert [c.role for c in summary(spec, open_preview()).colors] == ["stable", "preview"]
    assert preview(spec, open_preview(preview=None)) is None
    assert preview(spec, open_preview(phase=Phase.ABORTED)) is None
    assert preview(spec, None) is None
    elsewhere = preview(blue_green({"haproxy": {"port": 18080}}), open_preview())
    assert elsewhere is not None and elsewhere.url is None  # reached through the router's entry


def test_the_rollback_window_names_the_kept_version_replicas_and_deadline() -> None:
    spec = blue_green({"haproxy": {"port": 18080}})
    completed = kept_after_completion(1000.0, 2000.0).model_copy(
        update={"ready": {"green": 3, "blue": 0}}
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
