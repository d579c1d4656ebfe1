"""Every strategy reduced to one plan: the steps to run and how the canary is sized.

blueGreen is blueGreenCanary with a single pause and no user traffic before the switch, so the
state machine only knows steps; rollingUpdate has no steps and its own replica arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from serinus.core.spec import Pause, RollingUpdate, RolloutSpec, Step, steps_of
from serinus.core.window_spec import RollbackWindow


@dataclass(frozen=True)
class Plan:
    strategy: str
    steps: tuple[Step, ...]
    replicas: int
    canary_follows_weight: bool
    preview: bool
    scale_down_delay: float
    abort_scale_down_delay: float
    rolling: RollingUpdate | None = None
    window: RollbackWindow | None = None  # keep the previous version after completion

    def canary_replicas(self, weight: int) -> int:
        """Replicas the canary needs to carry `weight` percent of the traffic."""
        if not self.canary_follows_weight:
            return self.replicas
        if weight <= 0:
            return 0
        return max(1, math.ceil(self.replicas * weight / 100))


def plan_for(spec: RolloutSpec) -> Plan:
    strategy = spec.strategy
    replicas = spec.workload.replicas
    if strategy.blue_green is not None:
        chosen = strategy.blue_green
        wait = Pause(duration=chosen.auto_promotion_seconds) if chosen.auto_promotion else Pause()
        return Plan(
            strategy=strategy.kind,
            steps=(Step(pause=wait),),
            replicas=replicas,
            canary_follows_weight=False,
            preview=True,
            scale_down_delay=chosen.scale_down_delay,
            abort_scale_down_delay=chosen.abort_scale_down_delay,
            window=chosen.rollback_window,
        )
    if strategy.rolling_update is not None:
        return Plan(
            strategy=strategy.kind,
            steps=(),
            replicas=replicas,
            canary_follows_weight=False,
            preview=False,
            scale_down_delay=0.0,
            abort_scale_down_delay=0.0,
            rolling=strategy.rolling_update,
        )
    stepped = strategy.blue_green_canary or strategy.canary
    assert stepped is not None  # the Strategy model guarantees exactly one kind
    return Plan(
        strategy=strategy.kind,
        steps=tuple(steps_of(strategy)),
        replicas=replicas,
        canary_follows_weight=strategy.canary is not None,
        preview=False,
        scale_down_delay=stepped.scale_down_delay,
        abort_scale_down_delay=stepped.abort_scale_down_delay,
        window=stepped.rollback_window,
    )
