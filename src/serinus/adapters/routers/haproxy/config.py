"""Renders the HAProxy configuration (and its map files) from the router state.

Layout (names in `layout`):

- frontend `main` on bindAddress:port: header-route rules first (`use_backend be_<color>` when
  the route's header ACLs match and the route is switched on in `routes.map`), then
  `default_backend be_main`;
- backend `be_main`: server slots `blue-0..blue-(n-1)` and `green-0..green-(n-1)`, weighted so
  each color gets its share; `be_blue`, `be_green`: the same replicas per color;
- frontend `preview` on previewPort (optional): to `be_<color>` as `preview.map` says, else a
  503 from `be_no_preview`;
- frontend `stats` on statsPort (optional): Prometheus exporter on /metrics, stats page on /.

Everything variable at runtime (addresses, weights, states, map entries) is rendered with its
current value, so a restarted HAProxy resumes exactly where the runtime commands had left it.
Every string from the spec, the platform or the state file goes through `words` as it is
written: strictly shaped or single-quoted, so none can add a line, a word or a directive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from serinus.adapters.routers.haproxy import words
from serinus.adapters.routers.haproxy.headers import DeclaredRoute, HeaderRule
from serinus.adapters.routers.haproxy.layout import (
    MAIN_BACKEND,
    NO_PREVIEW_BACKEND,
    PLACEHOLDER_HOST,
    PLACEHOLDER_PORT,
    PREVIEW_KEY,
    color_backend,
)
from serinus.adapters.routers.haproxy.plan import ServerKey, ServerTarget, desired_servers
from serinus.adapters.routers.haproxy.state import RouterState
from serinus.core.spec import HaproxyRouting
from serinus.core.status import COLORS

_SPEC = "trafficRouting.haproxy"
HEALTH_CHECK_FIELD = "workload.process.readiness.path"

_MATCH_FLAG = {"exact": "-m str", "prefix": "-m beg", "regex": "-m reg"}


@dataclass(frozen=True)
class ConfigInputs:
    """Everything the configuration depends on besides the runtime state."""

    name: str
    routing: HaproxyRouting
    admin_socket: Path
    routes_map: Path
    preview_map: Path
    health_check_path: str | None
    header_routes: tuple[DeclaredRoute, ...]


def route_value(variant: int, color: str) -> str:
    """The `routes.map` value that switches a route's variant on towards a color."""
    return f"{variant}:{color}"


def render_routes_map(state: RouterState) -> str:
    return "".join(
        f"{words.name(name, 'setHeaderRoute.name')} {route_value(sel.variant, sel.color)}\n"
        for name, sel in state.routes.items()
    )


def render_preview_map(state: RouterState) -> str:
    return "" if state.preview is None else f"{PREVIEW_KEY} {state.preview}\n"


def _header_acl(rule: HeaderRule, field: str) -> str:
    # Regexes match the whole value, as in Istio and Gateway API (HAProxy's -m reg searches).
    value = f"^(?:{rule.value})$" if rule.kind == "regex" else rule.value
    header = words.header_name(rule.header, f"{field}.headerName")
    quoted = words.quote(value, f"{field}.headerValue.{rule.kind}")
    return f"req.fhdr({header}) {_MATCH_FLAG[rule.kind]} {quoted}"


def _header_route_lines(inputs: ConfigInputs) -> list[str]:
    lines: list[str] = []
    routes_map = words.path(str(inputs.routes_map), "HAProxy state directory")
    for route in inputs.header_routes:
        name = words.name(route.name, "setHeaderRoute.name")
        for variant, rules in enumerate(route.variants):
            acls: list[str] = []
            for index, rule in enumerate(rules):
                acl = f"hr_{name}_{variant}_{index}"
                field = f"setHeaderRoute {name!r}.match[{index}]"
                lines.append(f"    acl {acl} {_header_acl(rule, field)}")
                acls.append(acl)
            for color in COLORS:
                switch = f"{{ str({name}),map({routes_map}) -m str {route_value(variant, color)} }}"
                lines.append(f"    use_backend {color_backend(color)} if {' '.join(acls)} {switch}")
    return lines


def _server_line(name: str, target: ServerTarget) -> str:
    host, port = target.address or (PLACEHOLDER_HOST, PLACEHOLDER_PORT)
    host = words.address(host, f"server {name} host")
    port = words.port(port, f"server {name} port")
    address = f"ipv6@{host}:{port}" if ":" in host else f"{host}:{port}"
    # A drained replica is rendered as weight 0: the config has no "drain" keyword.
    disabled = " disabled" if target.admin == "maint" else ""
    return f"    server {name} {address} weight {int(target.weight)}{disabled}"


def _backend(
    backend: str, table: dict[ServerKey, ServerTarget], health_check_path: str | None
) -> list[str]:
    lines = [f"backend {backend}", "    balance roundrobin"]
    if health_check_path is not None:
        lines.append(
            f"    option httpchk GET {words.http_path(health_check_path, HEALTH_CHECK_FIELD)}"
        )
    lines.append("    default-server check inter 500ms fall 2 rise 1")
    lines += [_server_line(name, target) for (be, name), target in table.items() if be == backend]
    return [*lines, ""]


def render_config(inputs: ConfigInputs, state: RouterState) -> str:
    routing = inputs.routing
    table = desired_servers(state)
    bind = words.address(routing.bind_address, f"{_SPEC}.bindAddress", wildcard=True)
    retry_on = [
        words.name(word, f"{_SPEC}.retryOn[{i}]") for i, word in enumerate(routing.retry_on)
    ]
    lines = [
        # ascii(): the name cannot end the comment line.
        f"# Generated by serinus for rollout {inputs.name!a}; serinus rewrites it, do not edit.",
        "global",
        f"    stats socket {words.path(str(inputs.admin_socket), f'{_SPEC}.adminSocket')} "
        "mode 600 level admin expose-fd listeners",
        "    stats timeout 30s",
        # Fail loudly instead of sharing the port with another process (SO_REUSEPORT).
        "    noreuseport",
        "    hard-stop-after 30s",
        "",
        "defaults",
        "    mode http",
        "    option http-keep-alive",
        # A request never dies on a replica that is going away: retry elsewhere.
        "    retries 3",
        "    option redispatch 1",
        f"    retry-on {' '.join(retry_on)}",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 10s",
        "    timeout queue 5s",
        "    timeout check 1s",
        "",
        "frontend main",
        f"    bind {bind}:{words.port(routing.port, f'{_SPEC}.port')}",
        *_header_route_lines(inputs),
        f"    default_backend {MAIN_BACKEND}",
        "",
    ]
    if routing.preview_port is not None:
        preview_port = words.port(routing.preview_port, f"{_SPEC}.previewPort")
        preview_map = words.path(str(inputs.preview_map), "HAProxy state directory")
        lines += ["frontend preview", f"    bind {bind}:{preview_port}"]
        for color in COLORS:
            lines.append(
                f"    use_backend {color_backend(color)} "
                f"if {{ str({PREVIEW_KEY}),map({preview_map}) -m str {color} }}"
            )
        lines += [f"    default_backend {NO_PREVIEW_BACKEND}", ""]
        lines += [
            f"backend {NO_PREVIEW_BACKEND}",
            '    http-request return status 503 content-type text/plain string "no preview\\n"',
            "",
        ]
    if routing.stats_port is not None:
        lines += [
            "frontend stats",
            f"    bind {bind}:{words.port(routing.stats_port, f'{_SPEC}.statsPort')}",
            "    http-request use-service prometheus-exporter if { path /metrics }",
            "    stats enable",
            "    stats uri /",
            "    stats refresh 5s",
            "",
        ]
    for backend in (MAIN_BACKEND, *(color_backend(color) for color in COLORS)):
        lines += _backend(backend, table, inputs.health_check_path)
    return "\n".join(lines)


def ports_of(routing: HaproxyRouting) -> Sequence[int]:
    return [p for p in (routing.port, routing.preview_port, routing.stats_port) if p is not None]
