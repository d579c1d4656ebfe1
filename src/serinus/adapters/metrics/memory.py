"""A scripted, in-memory metric provider for tests: replays values and failures in order.

Each step is a list of values or an exception to raise (a MetricsError for a provider that is
down). After the last step the last one repeats. `respond` computes the reply from the source
instead (e.g. different samples for a comparison's baseline and canary queries). Every source it
was asked to measure is kept in `calls`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Step = list[float] | BaseException


class MemoryProvider:
    def __init__(
        self,
        steps: Sequence[Step] = (),
        respond: Callable[[Any], list[float]] | None = None,
    ) -> None:
        if not steps and respond is None:
            raise ValueError("a MemoryProvider needs steps or a respond function")
        self._steps = list(steps)
        self._respond = respond
        self.calls: list[Any] = []

    async def measure(self, source: Any) -> list[float]:
        self.calls.append(source)
        if self._respond is not None:
            return list(self._respond(source))
        step = self._steps[min(len(self.calls), len(self._steps)) - 1]
        if isinstance(step, BaseException):
            raise step
        return list(step)
