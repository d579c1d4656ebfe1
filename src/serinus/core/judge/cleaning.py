"""Preparing one side's sample before the comparison: NaN handling, then optional outlier removal.

As Kayenta's NetflixACAJudge, each side (canary, baseline) is cleaned on its own:

- `nanStrategy: remove` drops NaN (missing) values; `replace` turns them into 0 (for counters,
  where no sample means no event).
- `outliers: {strategy: remove, outlierFactor: k}` drops values outside the fences of Kayenta's
  IQR detector with reduced sensitivity: the wider of Tukey's fences
  [Q1 - k*IQR, Q3 + k*IQR] and the 1st..99th percentile range, so that at most the extreme
  percent on each side can go. Quantiles use R's type 6 estimator (numpy's "weibull"), which is
  Apache Commons Math's default `Percentile` estimation that Kayenta relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from serinus.core.judge.canary_config import CanaryAnalysis, NanStrategy, OutlierStrategy
from serinus.core.judge.pairwise import FloatArray


@dataclass(frozen=True)
class CleanSample:
    values: FloatArray
    missing: int  # NaN values removed or replaced
    outliers: int  # values dropped as outliers


def outlier_fences(values: FloatArray, factor: float) -> tuple[float, float]:
    q1, q3, p1, p99 = np.percentile(values, [25.0, 75.0, 1.0, 99.0], method="weibull")
    spread = q3 - q1
    return float(min(p1, q1 - factor * spread)), float(max(p99, q3 + factor * spread))


def clean(raw: FloatArray, analysis: CanaryAnalysis) -> CleanSample:
    values = np.asarray(raw, dtype=np.float64)
    missing_mask = np.isnan(values)
    missing = int(missing_mask.sum())
    if analysis.nan_strategy is NanStrategy.REPLACE:
        values = np.where(missing_mask, 0.0, values)
    else:
        values = values[~missing_mask]
    outliers = 0
    if analysis.outliers.strategy is OutlierStrategy.REMOVE and values.size:
        low, high = outlier_fences(values, analysis.outliers.outlier_factor)
        kept = (values >= low) & (values <= high)
        outliers = int(values.size - kept.sum())
        values = values[kept]
    return CleanSample(values=values, missing=missing, outliers=outliers)
