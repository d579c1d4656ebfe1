"""The scripted provider used by the app's tests."""

from __future__ import annotations

import pytest

from serinus.adapters.metrics.memory import MemoryProvider
from serinus.core.errors import MetricsError


async def test_replays_steps_then_repeats_the_last() -> None:
    provider = MemoryProvider([[1.0], MetricsError("down"), [2.0]])
    assert await provider.measure("a") == [1.0]
    with pytest.raises(MetricsError, match="down"):
        await provider.measure("b")
    assert await provider.measure("c") == [2.0]
    assert await provider.measure("d") == [2.0]
    assert provider.calls == ["a", "b", "c", "d"]


async def test_respond_computes_from_the_source() -> None:
    provider = MemoryProvider(respond=lambda source: [float(len(source))])
    assert await provider.measure("abc") == [3.0]
    with pytest.raises(ValueError, match="needs steps or a respond function"):
        MemoryProvider()
