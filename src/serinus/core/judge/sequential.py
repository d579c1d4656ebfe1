"""Sequential early stopping on error ratios: fail a bad canary as soon as the evidence is enough.

A fixed-window analysis looks at the data a few times and judges each look on its own, so a
canary that is plainly failing still waits for the first look, and every extra look adds its own
chance of a false fail. This test looks at the counters as often as they arrive and controls the
false-fail rate over the whole run, however many looks there are.

The model: requests and errors of the canary and of the baseline, from cumulative counters. Given
the requests of an interval and that an error happened, it is a canary error with probability
q = r s / (r s + 1 - s), where s is the canary's share of the interval's requests and r the
ratio of the canary's error rate to the baseline's (r = 1: the canary is no worse). Each
interval's errors split binomially, and the likelihood ratio of "rate ratio r" against r = 1 is
a product over intervals. The evidence is a mixture of these ratios over a grid of r > 1 (evenly
weighted in log r): a nonnegative martingale when the canary is no worse (r <= 1), so by Ville's
inequality it reaches 1/alpha with probability at most alpha, whenever and however often one
looks, and whatever the traffic split does between looks. Fail when it does; the test never
passes a canary early (passing waits for the run's own minimum, as a fixed window would).

Given the requests of an interval and its total errors, a canary no worse than the baseline has
its errors split hypergeometrically, not binomially; the hypergeometric is below the binomial in
the convex order (Hoeffding, 1963) and each likelihood ratio is convex in the canary's errors, so
its expectation stays at most 1: the evidence is then a supermartingale and the bound still holds.
The same model counts requests slower than a latency threshold instead of errors.

`advance` carries the evidence from one look to the next (one running log likelihood ratio per
alternative), so a caller keeps a few numbers, never every look.

Every look reports the evidence, the boundary and both error ratios, so a person sees why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

DEFAULT_ALPHA = 0.05


def _geometric(low: float, high: float, count: int) -> tuple[float, ...]:
    """`count` numbers from `low` to `high`, evenly spaced in log (numpy's geomspace, to 1 ulp).

    Computed without numpy: every status read (`serinus get`) imports this module, and numpy
    alone costs a CLI command more than its own work; the test itself imports numpy when run.
    """
    start, stop = math.log10(low), math.log10(high)
    step = (stop - start) / (count - 1)
    inner = (10.0 ** (start + i * step) for i in range(1, count - 1))
    return (low, *inner, high)


# Rate ratios the mixture weighs, evenly in log r: from twice to 50 times the baseline's rate.
# Chosen in advance (the guarantee needs that): against [1.1, 50] it fails a 10x canary about
# 0.3 s sooner on average and a 2x one slightly more often within 35 s (analysis_detection.py
# --simulate); the rate ratio a canary really has is not known, so the spread stays wide.
DEFAULT_RATIOS = _geometric(2.0, 50.0, 40)


@dataclass(frozen=True)
class CounterLook:
    """Cumulative counters read at time `at` (seconds)."""

    at: float
    canary_requests: float
    canary_errors: float
    baseline_requests: float
    baseline_errors: float


@dataclass(frozen=True)
class Evidence:
    """What one look says: fail once `log_evidence` reaches `log_boundary`."""

    at: float
    log_evidence: float
    log_boundary: float
    canary_ratio: float | None  # errors / requests so far; None before any request
    baseline_ratio: float | None

    @property
    def fails(self) -> bool:
        return self.log_evidence >= self.log_boundary


def _ratio(errors: float, requests: float) -> float | None:
    return errors / requests if requests > 0 else None


def _checked(looks: Sequence[CounterLook]) -> None:
    fields = ("canary_requests", "canary_errors", "baseline_requests", "baseline_errors")
    previous: CounterLook | None = None
    for index, look in enumerate(looks):
        for name in fields:
            value = getattr(look, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"looks[{index}].{name}: {value} is not a finite count >= 0")
            if previous is not None and value < getattr(previous, name):
                raise ValueError(
                    f"looks[{index}].{name}: the counter went down ({getattr(previous, name)} "
                    f"-> {value}); a reset counter cannot be read as cumulative"
                )
        for side in ("canary", "baseline"):
            if getattr(look, f"{side}_errors") > getattr(look, f"{side}_requests"):
                raise ValueError(f"looks[{index}].{side}_errors: more errors than requests")
        if previous is not None and look.at < previous.at:
            raise ValueError(f"looks[{index}].at: looks must be in time order")
        previous = look


class ErrorRatioTest:
    """The mixture sequential probability ratio test above, for one level `alpha`."""

    def __init__(self, alpha: float = DEFAULT_ALPHA, ratios: Sequence[float] = DEFAULT_RATIOS):
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha: {alpha} is not between 0 and 1")
        if not ratios or any(not math.isfinite(r) or r <= 1.0 for r in ratios):
            raise ValueError("ratios: the alternatives must be finite rate ratios above 1")
        import numpy as np  # here, not at the top: see _geometric

        self.alpha = alpha
        self._ratios = np.asarray(ratios, dtype=np.float64)
        self._log_weight = -math.log(len(ratios))

    @property
    def log_boundary(self) -> float:
        return math.log(1.0 / self.alpha)

    @property
    def alternatives(self) -> int:
        """How many log likelihood ratios the test carries from look to look."""
        return int(self._ratios.size)

    def log_evidence(self, log_ratios: Sequence[float]) -> float:
        """The mixture of the alternatives' likelihood ratios (log), evenly weighted."""
        import numpy as np

        values = np.asarray(log_ratios, dtype=np.float64)
        if values.shape != self._ratios.shape:
            raise ValueError(f"log_ratios: expected {self.alternatives} values, got {values.size}")
        top = float(np.max(values))
        return top + math.log(float(np.sum(np.exp(values - top)))) + self._log_weight

    def advance(
        self, log_ratios: Sequence[float], before: CounterLook, after: CounterLook
    ) -> list[float]:
        """The log likelihood ratios after the interval between two looks (one per alternative).

        Starting from zeros (evidence 1) at the first look, this is how the evidence is carried
        from look to look without keeping every look: the ratios are a running sum.
        """
        import numpy as np

        _checked([before, after])
        values = np.asarray(log_ratios, dtype=np.float64)
        if values.shape != self._ratios.shape:
            raise ValueError(f"log_ratios: expected {self.alternatives} values, got {values.size}")
        return [float(v) for v in values + self._interval(before, after)]

    def evidence(self, looks: Sequence[CounterLook]) -> list[Evidence]:
        """The evidence at every look (the first look is where counting starts)."""
        import numpy as np

        _checked(looks)
        log_ratio = np.zeros_like(self._ratios)  # log likelihood ratio per alternative
        out: list[Evidence] = []
        for before, look in zip([None, *looks[:-1]], looks, strict=True):
            if before is not None:
                log_ratio += self._interval(before, look)
            out.append(
                Evidence(
                    at=look.at,
                    log_evidence=self.log_evidence(log_ratio.tolist()),
                    log_boundary=self.log_boundary,
                    canary_ratio=_ratio(look.canary_errors, look.canary_requests),
                    baseline_ratio=_ratio(look.baseline_errors, look.baseline_requests),
                )
            )
        return out

    def _interval(self, before: CounterLook, after: CounterLook) -> np.ndarray:
        import numpy as np

        canary_requests = after.canary_requests - before.canary_requests
        baseline_requests = after.baseline_requests - before.baseline_requests
        canary_errors = after.canary_errors - before.canary_errors
        baseline_errors = after.baseline_errors - before.baseline_errors
        total = canary_requests + baseline_requests
        if total <= 0 or canary_errors + baseline_errors == 0:
            return np.zeros_like(self._ratios)  # no error to split: no evidence either way
        share = canary_requests / total
        if share <= 0.0 or share >= 1.0:
            # errors on a side with no requests in the interval (counters scraped apart):
            # nothing to compare them with
            return np.zeros_like(self._ratios)
        q = self._ratios * share / (self._ratios * share + 1.0 - share)
        return np.asarray(
            canary_errors * np.log(q / share) + baseline_errors * np.log((1.0 - q) / (1.0 - share))
        )


def first_failure(evidence: Sequence[Evidence]) -> Evidence | None:
    """The first look at which the test fails the canary; None when it never does."""
    return next((look for look in evidence if look.fails), None)
