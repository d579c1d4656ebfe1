"""How every entrypoint puts a rollout in words: its steps, and where a previewed version is.

One description of a step, in two wordings. `spoken` is for people reading a terminal
(`set weight 10%`, `pause for 5m00s`, `judgement (times out after 30m00s: abort)`); `spec_named`
is for the dashboard's step timeline, which sits beside the YAML and names each step as the spec
does (`setWeight 10%`, `pause 600s`, `judgement (needs sre-lead)`). The CLI (`get`, `list`, the
live view, `plan`) and the API both call these, so a step reads the same wherever it is shown.

Pure functions of the spec: no I/O, no clock.
"""

from __future__ import annotations

from serinus.core.spec import Judgement, Rollout, SetHeaderRoute, Step
from serinus.entrypoints.cli.clock import duration


def spoken(step: Step) -> str:
    """One step as a person would say it (never a dump of its fields)."""
    return _described(step, spoken=True)


def spec_named(step: Step) -> str:
    """One step under its name in the spec (`setWeight 10%`)."""
    return _described(step, spoken=False)


def _described(step: Step, *, spoken: bool) -> str:
    if step.set_weight is not None:
        return f"{'set weight' if spoken else 'setWeight'} {step.set_weight}%"
    if step.pause is not None:
        if step.pause.duration is None:
            return "pause until promoted"
        if spoken:
            return f"pause for {duration(step.pause.duration)}"
        return f"pause {step.pause.duration:g}s"
    if step.judgement is not None:
        return _judgement(step.judgement, spoken=spoken)
    if step.analysis is not None:
        return f"analysis {', '.join(step.analysis.templates)}"
    if step.set_header_route is not None:
        return _header_route(step.set_header_route, spoken=spoken)
    if step.set_mirror is not None and spoken:
        return f"mirror {step.set_mirror.percentage}% of requests"
    return step.kind


def _judgement(judgement: Judgement, *, spoken: bool) -> str:
    # The terminal says when it times out (its countdown is beside it); the timeline, who may
    # decide (the judgement panel shows the timer).
    if spoken:
        if judgement.timeout is None:
            return "judgement (no timeout)"
        return f"judgement (times out after {duration(judgement.timeout)}: {judgement.on_timeout})"
    roles = judgement.required_roles
    return "judgement" + (f" (needs {', '.join(roles)})" if roles else "")


def _header_route(route: SetHeaderRoute, *, spoken: bool) -> str:
    if spoken:
        return f"header route {route.name} {'on' if route.match else 'off'}"
    return f"setHeaderRoute {route.name}" + ("" if route.match else " (remove)")


def preview_url(rollout: Rollout) -> str | None:
    """Where people reach the previewed version (HAProxy's preview port), if the router has one."""
    haproxy = rollout.spec.traffic_routing.haproxy
    if haproxy is None or haproxy.preview_port is None:
        return None
    host = "127.0.0.1" if haproxy.bind_address in ("0.0.0.0", "::") else haproxy.bind_address
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{haproxy.preview_port}/"
