"""The rendered HAProxy configuration: layout, runtime state rendered in, header routes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from serinus.adapters.routers.haproxy.config import (
    ConfigInputs,
    render_config,
    render_preview_map,
    render_routes_map,
)
from serinus.adapters.routers.haproxy.headers import declare
from serinus.adapters.routers.haproxy.state import RouterState, RouteSelection, Slot
from serinus.adapters.routers.haproxy.words import quote
from serinus.core.spec import HaproxyRouting, SetHeaderRoute


def inputs(routing: HaproxyRouting, routes: list[dict[str, object]] = ()) -> ConfigInputs:  # type: ignore[assignment]
    return ConfigInputs(
        name="web",
        routing=routing,
        admin_socket=Path("/run/s/admin.sock"),
        routes_map=Path("/run/s/routes.map"),
        preview_map=Path("/run/s/preview.map"),
        health_check_path="/healthz",
        header_routes=declare([SetHeaderRoute.model_validate(r) for r in routes]),
    )


def test_servers_carry_the_state_so_a_restarted_haproxy_resumes() -> None:
    state = RouterState.empty(2).with_slots(
        "blue", (Slot("127.0.0.1", 9000, True), Slot("127.0.0.1", 9001, False))
    )
    text = render_config(inputs(HaproxyRouting(port=8080)), state)
    assert "    bind 127.0.0.1:8080" in text
    main = text.split("\nbackend be_main\n")[1].split("\nbackend be_blue\n")[0]
    assert "server blue-0 127.0.0.1:9000 weight 200\n" in main
    assert "server blue-1 127.0.0.1:9001 weight 0\n" in main
    assert "server green-0 127.0.0.1:1 weight 0 disabled" in main
    assert "option httpchk GET '/healthz'" in main
    assert "stats socket /run/s/admin.sock mode 600 level admin expose-fd listeners" in text


def test_optional_frontends_appear_only_when_their_port_is_set() -> None:
    plain = render_config(inputs(HaproxyRouting()), RouterState.empty(1))
    assert "frontend preview" not in plain
    assert "prometheus-exporter" not in plain
    full = render_config(
        inputs(HaproxyRouting(previewPort=8081, statsPort=8404)), RouterState.empty(1)
    )
    assert "    bind 127.0.0.1:8081" in full
    assert "use_backend be_green if { str(preview),map(/run/s/preview.map) -m str green }" in full
    assert "http-request use-service prometheus-exporter if { path /metrics }" in full


def test_header_routes_become_acls_switched_by_the_routes_map() -> None:
    routes = [
        {
            "name": "testers",
            "match": [
                {"headerName": "X-Canary", "headerValue": {"exact": "it's"}},
                {"headerName": "X-User", "headerValue": {"regex": "qa-[0-9]+"}},
            ],
        },
        {"name": "testers", "match": [{"headerName": "X-Beta", "headerValue": {"prefix": "b"}}]},
        {"name": "testers"},
    ]
    text = render_config(inputs(HaproxyRouting(), routes), RouterState.empty(1))
    assert "acl hr_testers_0_0 req.fhdr('X-Canary') -m str 'it'\\''s'" in text
    assert "acl hr_testers_0_1 req.fhdr('X-User') -m reg '^(?:qa-[0-9]+)$'" in text
    assert "acl hr_testers_1_0 req.fhdr('X-Beta') -m beg 'b'" in text
    assert (
        "use_backend be_green if hr_testers_0_0 hr_testers_0_1 "
        "{ str(testers),map(/run/s/routes.map) -m str 0:green }"
    ) in text
    # Header routes are checked before the weighted split.
    assert text.index("use_backend be_green if hr_testers") < text.index("default_backend be_main")


def test_map_files_hold_the_switched_on_routes_and_the_preview() -> None:
    state = replace(
        RouterState.empty(1), routes={"testers": RouteSelection(1, "green")}, preview="blue"
    )
    assert render_routes_map(state) == "testers 1:green\n"
    assert render_preview_map(state) == "preview blue\n"
    assert render_preview_map(RouterState.empty(1)) == ""


def test_quote_keeps_text_literal() -> None:
    assert quote("a b", "f") == "'a b'"
    assert quote("it's", "f") == "'it'\\''s'"
