"""An unreachable router: nothing advances, and the outage counts against the progress deadline.

When the engine cannot read the router (HAProxy dead, the API server down) it still decides,
with `Observed.router_error` set and no weights read back. The machine then applies no operation
and follows no spec change (they stay pending until the router answers), makes no progress
through the steps and removes nothing (what carries traffic is unknown); only scale-ups go on.
It records since when the router is unreachable and says so in the message. Once that lasts past
`progressDeadlineSeconds`, a rollout in progress fails: abort to stable, whose writes are carried
out once the router answers, and never a promotion meanwhile.
"""

from __future__ import annotations

from serinus.core.events import EventType
from serinus.core.status import TERMINAL_PHASES, Phase, RolloutStatus, RouterOutage
from serinus.core.strategy.builder import Builder
from serinus.core.strategy.stopping import abort, remove_routes

_MAX_ERROR = 300  # the status keeps the gist of the error, not a dependency's whole answer
_MESSAGE = "the router is unreachable"


def router_answered(b: Builder) -> bool:
    """Record the router's state; False when it could not be read this reconcile."""
    error = b.observed.router_error
    outage = b.status.router_outage
    if error is None:
        if outage is not None:
            b.update(router_outage=None)
            if b.status.message.startswith(_MESSAGE):
                b.update(message="")
            b.emit(
                EventType.ROUTER_REACHABLE,
                f"the router answers again (unreachable for {b.now - outage.since:.0f}s)",
            )
        return True
    error = error[:_MAX_ERROR]
    if outage is None:
        outage = RouterOutage(since=b.now, error=error)
        b.emit(EventType.ROUTER_UNREACHABLE, f"{_MESSAGE}: {error}", error=error)
    b.update(router_outage=outage.model_copy(update={"error": error}))
    if b.status.canary is None or b.status.phase in TERMINAL_PHASES:
        return False
    due = outage.since + b.deadline
    if b.now >= due:
        abort(
            b,
            f"progress deadline ({b.deadline:g}s) exceeded: {_MESSAGE} for "
            f"{b.now - outage.since:.0f}s ({error})",
            Phase.FAILED,
        )
    else:
        b.wake(due)
        b.update(
            message=f"{_MESSAGE}: {error}; nothing advances until it answers, and the rollout "
            f"fails if that lasts {b.deadline:g}s"
        )
    return False


def keep_routes_unwritten(b: Builder, before: RolloutStatus) -> None:
    """The router cannot be written now: route changes wait (`remove_leftover_routes`)."""
    b.route_actions.clear()
    b.update(header_routes=before.header_routes, preview=before.preview, mirror=before.mirror)


def remove_leftover_routes(b: Builder) -> None:
    """A finished rollout has no header route, preview or mirror: remove any left behind (an
    abort decided while the router was unreachable could not remove them then)."""
    status = b.status
    if status.phase in TERMINAL_PHASES and (
        status.header_routes or status.preview is not None or status.mirror
    ):
        remove_routes(b)
