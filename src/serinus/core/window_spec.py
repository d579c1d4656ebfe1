"""`rollbackWindow`: keep the previous version after completion so `serinus undo` is instant.

After a rollout completes (and its `scaleDownDelay` has passed) the previous version is not torn
down but scaled to `replicas` on its color, with weight 0, until `duration` has passed. An undo
in that time moves traffic back to it without provisioning anything. `replicas` is a count
(`2`) or a share of the full size (`"50%"`, rounded up, at least 1); the default, `"100%"`,
keeps it at full size, so the undo moves all traffic in one reconcile. Two colors hold one
previous version, so `revisions` can only be 1.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import Field, field_validator

from serinus.core.spec_base import PositiveDuration, SpecModel
from serinus.core.workload_spec import MAX_REPLICAS

PERCENT = re.compile(r"^([1-9][0-9]?|100)%$")


class RollbackWindow(SpecModel):
    """Keep the previous version after completion, at weight 0, so an undo until `duration`
    has passed moves traffic back without provisioning. `replicas`: a count or a share of the
    full size ('50%'); `revisions`: only 1 (two colors hold one previous version)."""

    duration: PositiveDuration = Field(
        description="How long after completion the previous version is kept."
    )
    revisions: int = Field(
        default=1, ge=1, le=100, strict=True, description="Previous versions kept: only 1."
    )
    # A count or a share; bounds also stated here so the schema (and the CRD) carries them.
    replicas: (
        Annotated[int, Field(ge=1, le=MAX_REPLICAS)]
        | Annotated[str, Field(max_length=4, pattern=PERCENT.pattern)]
    ) = "100%"

    @field_validator("revisions")
    @classmethod
    def _one_revision(cls, revisions: int) -> int:
        if revisions != 1:
            raise ValueError(
                f"{revisions} revisions cannot be kept: the two colors hold the new version and "
                "one previous version, so only 1 is supported"
            )
        return revisions

    @field_validator("replicas", mode="before")
    @classmethod
    def _count_or_share(cls, replicas: object) -> object:
        if isinstance(replicas, int) and not isinstance(replicas, bool):
            if 1 <= replicas <= MAX_REPLICAS:
                return replicas
        elif isinstance(replicas, str) and PERCENT.fullmatch(replicas):
            return replicas
        raise ValueError(
            f"{str(replicas)[:20]!r} is neither a replica count (1 to {MAX_REPLICAS}) nor a "
            "share of the full size like '50%' (1% to 100%)"
        )

    def replicas_of(self, full: int) -> int:
        """Replicas kept for a service of `full` replicas: at least 1, at most `full`."""
        if isinstance(self.replicas, int):
            return max(1, min(self.replicas, full))
        share = int(self.replicas.removesuffix("%"))
        return max(1, min(full, math.ceil(full * share / 100)))


def window_problems(where: str, window: RollbackWindow | None, full: int) -> list[str]:
    """What the rest of the spec makes wrong about the window (a count above the full size)."""
    if window is not None and isinstance(window.replicas, int) and window.replicas > full:
        return [
            f"{where}.rollbackWindow.replicas: {window.replicas} is more than the workload's "
            f"{full} replicas"
        ]
    return []
