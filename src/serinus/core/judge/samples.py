"""Canary and baseline samples per metric, read from a decoded DATA document.

The document maps each metric name to `{"baseline": [...], "canary": [...]}`; values are numbers,
and `null` means a missing measurement (NaN, handled by the metric's `nanStrategy`). Errors name
the path, e.g. `data.latency.canary[3]: expected a number or null`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from serinus.core.errors import InvalidInput

SIDES = ("baseline", "canary")


@dataclass(frozen=True)
class MetricSamples:
    baseline: tuple[float, ...]
    canary: tuple[float, ...]


def _values(raw: Any, path: str, problems: list[str]) -> tuple[float, ...]:
    if not isinstance(raw, list):
        problems.append(f"{path}: expected a list of numbers")
        return ()
    values: list[float] = []
    for index, item in enumerate(raw):
        if item is None:
            values.append(math.nan)
        elif isinstance(item, int | float) and not isinstance(item, bool):
            if not math.isfinite(item):
                problems.append(f"{path}[{index}]: expected a finite number or null")
            values.append(float(item))
        else:
            problems.append(f"{path}[{index}]: expected a number or null")
    return tuple(values)


def parse_samples(document: Any, root: str = "data") -> dict[str, MetricSamples]:
    """Validate the whole document and report every problem at once."""
    if not isinstance(document, Mapping):
        raise InvalidInput(
            [f"{root}: expected a mapping of metric name to {{baseline, canary}}"], root
        )
    problems: list[str] = []
    samples: dict[str, MetricSamples] = {}
    for name, entry in document.items():
        path = f"{root}.{name}"
        if not isinstance(entry, Mapping):
            problems.append(f"{path}: expected a mapping with baseline and canary lists")
            continue
        problems.extend(f"{path}.{key}: unknown field" for key in entry if key not in SIDES)
        problems.extend(
            f"{path}.{side}: required field is missing" for side in SIDES if side not in entry
        )
        baseline = _values(entry.get("baseline", []), f"{path}.baseline", problems)
        canary = _values(entry.get("canary", []), f"{path}.canary", problems)
        samples[str(name)] = MetricSamples(baseline=baseline, canary=canary)
    if problems:
        raise InvalidInput(problems, root)
    return samples
