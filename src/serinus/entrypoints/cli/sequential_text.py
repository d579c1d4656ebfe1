"""A sequential metric in words for the CLI's tables: how it is judged, and where a look stands.

The live view of `serinus run` and `serinus demo` (view.py) and `serinus analyze run`
(analyze_run.py) show them the same way.
"""

from __future__ import annotations

from serinus.core.analysis.spec import Sequential
from serinus.core.analysis.state import Measurement, MeasurementPhase


def sequential_condition(spec: Sequential) -> str:
    """`sequential: alpha 0.05, minSamples 200` (the slow-request form says so)."""
    kind = "sequential" if spec.canary.counts == "errors" else "sequential on slow requests"
    return f"{kind}: alpha {spec.alpha:g}, minSamples {spec.min_samples}"


def look_value(measurement: Measurement) -> str | None:
    """`evidence 3.2 of 20, 150/200 canary requests` for a look that was counted (it fails
    when the evidence reaches the boundary, 1/alpha); None for any other measurement."""
    evidence, boundary = _number(measurement, "evidence"), _number(measurement, "boundary")
    if evidence is None or boundary is None:
        return None
    # the look decided the crossing (on the log scale); its phase says so, not a rounded figure
    where = "reached" if measurement.phase is MeasurementPhase.FAILED else "of"
    text = f"evidence {evidence:.3g} {where} {boundary:g}"
    requests, needed = _number(measurement, "canaryRequests"), _number(measurement, "minSamples")
    if requests is not None and needed is not None:
        text += f", {requests:g}/{needed:g} canary requests"
    return text


def _number(measurement: Measurement, key: str) -> float | None:
    value = measurement.details.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
