"""Turning the desired status into actions, and saying whether the world already matches it.

Order keeps traffic safe: scale up first, then weights (the router raises before it lowers),
then removals. The weights written are the capacity rule's (`capacity.py`), never the desired
ones blindly. A color is scaled down, replaced or torn down only once it carries no traffic
(read back from the router, not just desired), and a color serinus is tearing down is never
provisioned again with the version being removed (a restart repeats the teardown, not the start).
"""

from __future__ import annotations

from serinus.core.actions import Action, EnsureVersion, SetWeights, TearDown
from serinus.core.events import EventType
from serinus.core.status import COLORS, TERMINAL_PHASES, Color, Phase
from serinus.core.strategy.builder import Builder
from serinus.core.strategy.capacity import complete, in_force, ready_of, target_weights
from serinus.core.strategy.window import keeps_window, open_window


def carries_traffic(b: Builder, color: Color) -> bool:
    """Whether removing the color's replicas now could drop requests."""
    if not b.status.weights:
        return False  # serinus never routed: a first deployment is replaced in place
    after = in_force(b.status, b.observed, b.plan.replicas).get(color, 0)
    now = (b.observed.weights or {}).get(color, 0)
    return max(after, now) > 0 and b.observed.color(color).ready > 0


def scale_down_when_due(b: Builder) -> None:
    remaining = []
    for teardown in b.status.teardowns:
        if teardown.due > b.now:
            remaining.append(teardown)
            b.wake(teardown.due)
            continue
        # A version the color no longer runs (replaced by a newer one) has nothing to drain.
        gone = b.observed.color(teardown.color).version != teardown.version
        if not gone and (
            carries_traffic(b, teardown.color) or teardown not in b.recorded_teardowns
        ):
            remaining.append(teardown)  # first the traffic moves off it, and the record is saved
            b.wake(b.now)
            continue
        if keeps_window(b, teardown):
            open_window(b, teardown)  # kept at weight 0 instead: the rollout completes
            continue
        if b.status.version_of(teardown.color) == teardown.version:
            replicas = dict(b.status.replicas)
            replicas.pop(teardown.color, None)
            b.update(replicas=replicas)
        # else the color now wants another version: replacing it removes this one
        b.emit(
            EventType.SCALED_DOWN,
            f"{teardown.version} scaled down",
            version=teardown.version,
            color=teardown.color,
        )
    b.update(teardowns=remaining)
    if not remaining and b.status.phase is Phase.SCALING_DOWN:
        window = b.status.rollback_window
        kept = f"; {window.version} kept for an instant undo" if window is not None else ""
        b.enter(Phase.COMPLETED, f"{b.stable.version} is live{kept}")
        b.emit(EventType.COMPLETED, f"{b.stable.version} is live", version=b.stable.version)


def converge(b: Builder) -> list[Action]:
    status, observed = b.status, b.observed
    grow: list[Action] = []
    shrink: list[Action] = []
    for color in COLORS:
        version = status.version_of(color)
        wanted = status.replicas.get(color, 0) if version is not None else 0
        have = observed.color(color)
        if wanted == 0 or version is None:
            if have.exists and not carries_traffic(b, color):
                shrink.append(TearDown(color=color))
            continue
        if have.version == version and have.desired == wanted:
            continue
        leaving = any(t.color == color and t.version == version for t in status.teardowns)
        ensure = EnsureVersion(color=color, version=version, replicas=wanted)
        if (have.version == version and have.desired < wanted) or not have.exists:
            if not leaving:
                grow.append(ensure)
        elif have.version == version or not (carries_traffic(b, color) or leaving):
            shrink.append(ensure)  # a version being removed never replaces another
    actions: list[Action] = grow
    if observed.router_error is not None:
        return actions  # nothing can be routed or safely removed until the router answers
    target = target_weights(status, observed, b.plan.replicas)
    if target is not None and target != complete(observed.weights or {}):
        actions.append(SetWeights(weights=target))
    return [*actions, *b.route_actions, *shrink]


def note_convergence(b: Builder, actions: list[Action]) -> None:
    """Record whether the world matches the status; in a final phase the message says why not."""
    waiting = _waiting_for(b) or (_applying(actions) if actions else "")
    previous = b.status.waiting_for
    message = b.status.message
    if previous and message.endswith(f"; {previous}"):
        message = message[: -len(previous) - 2]
    elif previous and message == previous:
        message = ""
    if waiting and b.status.phase in TERMINAL_PHASES:
        message = f"{message}; {waiting}" if message else waiting
        b.wake(b.now + 1.0)
    b.update(converged=not waiting, waiting_for=waiting, message=message)


def _waiting_for(b: Builder) -> str:
    status, observed = b.status, b.observed
    if observed.router_error is not None:
        return f"waiting for the router to answer ({observed.router_error[:120]})"
    if status.weights:
        desired = complete(status.weights)
        target = target_weights(status, observed, b.plan.replicas) or {}
        for color in COLORS:
            if desired[color] > target.get(color, 0):
                version = status.version_of(color)
                needed = max(status.replicas.get(color, 0), 1)
                ready = ready_of(status, observed, color)
                where = "back" if status.stable and status.stable.color == color else "to it"
                return (
                    f"waiting for replicas of {version} to be ready ({ready}/{needed} now) "
                    f"before moving traffic {where}"
                )
        if complete(observed.weights or {}) != desired:
            return "waiting for the router to apply the weights"
    for teardown in status.teardowns:
        if teardown.due <= b.now:
            return f"waiting for traffic to leave {teardown.version} before scaling it down"
    for color in COLORS:
        version = status.version_of(color)
        have = observed.color(color)
        wanted = status.replicas.get(color, 0) if version is not None else 0
        if wanted == 0 and have.exists:
            return f"waiting for {have.version} to be torn down"
        if wanted and (have.version != version or have.desired != wanted):
            return f"waiting for the platform to run {wanted} replicas of {version}"
    return ""


def _applying(actions: list[Action]) -> str:
    kinds = sorted({type(action).__name__ for action in actions})
    return "applying " + ", ".join(kinds)
