"""The rollingUpdate strategy (the baseline the seed replaced): replicas replaced a few at a time,
traffic in proportion to the ready replicas of each version.
"""

from __future__ import annotations

from serinus.core.events import EventType
from serinus.core.status import Phase
from serinus.core.strategy.builder import Builder
from serinus.core.strategy.stopping import check_deadline
from serinus.core.weights import apportion


def progress_rolling(b: Builder) -> None:
    rolling = b.plan.rolling
    assert rolling is not None
    stable, canary = b.stable, b.canary
    total = b.plan.replicas
    old_state = b.observed.color(stable.color)
    new_state = b.observed.color(canary.color)
    current_old = b.status.replicas.get(stable.color, 0)
    current_new = b.status.replicas.get(canary.color, 0)
    ready_old = min(old_state.ready, current_old) if old_state.version == stable.version else 0
    ready_new = min(new_state.ready, current_new) if new_state.version == canary.version else 0
    b.enter(Phase.PROGRESSING, f"{canary.version}: {ready_new}/{total} ready")
    if ready_new >= total and current_old == 0:
        b.update(
            weights={canary.color: 100, stable.color: 0},
            stable=canary,
            canary=None,
            previous_version=stable.version,
            replicas={canary.color: total},
        )
        b.enter(Phase.COMPLETED, f"{canary.version} rolled out")
        b.emit(EventType.COMPLETED, f"{canary.version} rolled out", version=canary.version)
        return
    target_new = min(total, max(current_new, total + rolling.max_surge - current_old))
    removable = max(0, ready_old + ready_new - (total - rolling.max_unavailable))
    target_old = max(0, current_old - removable)
    b.update(replicas={stable.color: target_old, canary.color: target_new})
    serving_old = min(ready_old, target_old)
    if serving_old + ready_new > 0:
        shares = apportion([serving_old, ready_new])
        b.update(weights={stable.color: shares[0], canary.color: shares[1]})
    if b.status.step_started_at is None or (target_old, target_new) != (current_old, current_new):
        b.update(step_started_at=b.now)  # the deadline measures time without progress
    check_deadline(b, b.status.step_started_at or b.now, f"{canary.version} replicas", canary)
