"""From metric classifications to group scores, a 0..100 score and a verdict.

Kayenta's WeightedSumScorer and ThresholdScoreClassifier, as serinus applies them:

- Muted metrics are reported but take no part in any of what follows.
- A group's score is 100 * Pass / counted, where counted are its metrics classified Pass, High,
  Low, NodataFailMetric or Error. Nodata metrics are left out; a group with nothing counted has no
  score (`null`) and no weight. (Kayenta also leaves Error out of the count and gives a group
  without data an effective 100; here an error counts against its group and missing data never
  adds to the score.)
- Group weights come from `classifier.groupWeights`; groups without a weight share what is left
  of 100 equally (nothing when the configured weights reach 100). The score is the weighted mean
  of the group scores that exist, rounded to 2 decimals as Kayenta does.
- The score is forced to 0 when a critical metric fails (a critical failure, see `classify`), and
  when half of the counted metrics or more are Nodata. With nothing counted, the score is 0.
- Verdict: Pass when score >= pass, Marginal when score >= marginal, Fail otherwise; a forced 0 is
  always Fail, whatever the thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from serinus.core.judge.canary_config import Classifier
from serinus.core.judge.report import Classification, MetricResult, Verdict

NODATA_SHARE_LIMIT = 0.5


@dataclass(frozen=True)
class ScoredMetric:
    groups: tuple[str, ...]
    result: MetricResult


@dataclass(frozen=True)
class Score:
    groups: dict[str, float | None]
    score: float
    verdict: Verdict
    reason: str


def group_scores(metrics: Sequence[ScoredMetric]) -> dict[str, float | None]:
    labels: dict[str, list[Classification]] = {}
    for metric in metrics:
        for group in metric.groups:
            labels.setdefault(group, []).append(metric.result.classification)
    scores: dict[str, float | None] = {}
    for group, classes in labels.items():
        counted = [label for label in classes if label is not Classification.NODATA]
        passed = sum(label is Classification.PASS for label in counted)
        scores[group] = round(100.0 * passed / len(counted), 2) if counted else None
    return scores


def group_weights(groups: Sequence[str], classifier: Classifier) -> dict[str, float]:
    configured = classifier.group_weights
    unweighted = [group for group in groups if group not in configured]
    left = max(0.0, 100.0 - sum(configured.values()))
    share = left / len(unweighted) if unweighted else 0.0
    return {group: configured.get(group, share) for group in groups}


def _forced_zero(counted: Sequence[MetricResult]) -> str | None:
    if not counted:
        return "no metric is counted (none configured, or all muted)"
    failed = [metric for metric in counted if metric.critical]
    if failed:
        names = ", ".join(f"{m.name} ({m.classification.value})" for m in failed)
        return f"critical metric failed: {names}"
    nodata = sum(metric.classification is Classification.NODATA for metric in counted)
    if nodata / len(counted) >= NODATA_SHARE_LIMIT:
        return f"{nodata} of {len(counted)} metrics have no data (the limit is under half)"
    return None


def score_metrics(metrics: Sequence[ScoredMetric], classifier: Classifier) -> Score:
    counted = [metric for metric in metrics if not metric.result.muted]
    groups = group_scores(counted)
    thresholds = classifier.score_thresholds
    forced = _forced_zero([metric.result for metric in counted])
    if forced:
        return Score(groups, 0.0, Verdict.FAIL, f"score forced to 0: {forced}")
    weights = group_weights(list(groups), classifier)
    present = {group: score for group, score in groups.items() if score is not None}
    total_weight = sum(weights[group] for group in present)
    if total_weight <= 0:
        return Score(groups, 0.0, Verdict.FAIL, "score 0: no group with data carries any weight")
    score = round(sum(weights[g] * s for g, s in present.items()) / total_weight, 2)
    limits = f"pass >= {thresholds.pass_:g}, marginal >= {thresholds.marginal:g}"
    if score >= thresholds.pass_:
        verdict = Verdict.PASS
    elif score >= thresholds.marginal:
        verdict = Verdict.MARGINAL
    else:
        verdict = Verdict.FAIL
    return Score(groups, score, verdict, f"score {score:g} ({limits})")
