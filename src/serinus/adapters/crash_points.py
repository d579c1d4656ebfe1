"""A test hook: named points where serinus kills itself with SIGKILL, to prove crash safety.

`SERINUS_CRASH_AT=<point>[@<n>]` makes the process SIGKILL itself the n-th time (default:
the first) it passes `<point>`. Points: `spawn` (a replica process started, not yet recorded),
`ready` (a replica passed readiness, not yet recorded), `weights` (HAProxy took new weights,
the router state not yet written), `teardown` (a color recorded as retiring, one replica
stopped, the others still running). Nothing sets it but `benchmarks/kill_local.py` and the
tests that run it; unset (always, in normal use) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "SERINUS_CRASH_AT"
POINTS = ("spawn", "ready", "weights", "teardown")

_passes: Counter[str] = Counter()


def crash_point(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _passes[name] += 1
    if _passes[name] == int(nth or "1"):
        os.kill(os.getpid(), signal.SIGKILL)
