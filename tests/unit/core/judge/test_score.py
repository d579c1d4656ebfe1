"""Group scores, weights, thresholds and the rules that force the score to 0."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.core.judge.canary_config import Classifier
from serinus.core.judge.report import Classification, MetricResult, Verdict
from serinus.core.judge.score import ScoredMetric, score_metrics

P, H, L = Classification.PASS, Classification.HIGH, Classification.LOW
ND, NDF, ERR = Classification.NODATA, Classification.NODATA_FAIL_METRIC, Classification.ERROR


def metric(
    label: Classification, *groups: str, critical: bool = False, muted: bool = False
) -> ScoredMetric:
    result = MetricResult(
        name=f"m{label}", classification=label, reason="", critical=critical, muted=muted
    )
    return ScoredMetric(groups=groups or ("g",), result=result)


def classifier(**fields: Any) -> Classifier:
    return Classifier.model_validate(fields)


def test_group_score_is_the_share_of_passing_metrics() -> None:
    score = score_metrics([metric(P), metric(P), metric(H), metric(L)], classifier())
    assert score.groups == {"g": 50.0}
    assert score.score == 50.0
    assert score.verdict is Verdict.FAIL


def test_nodata_fail_metric_and_error_count_against_their_group_nodata_does_not() -> None:
    score = score_metrics(
        [metric(P), metric(NDF), metric(ERR), metric(P), metric(ND)], classifier()
    )
    assert score.groups == {"g": 50.0}


def test_group_weights_and_shared_remainder() -> None:
    metrics = [metric(P, "errors"), metric(H, "latency"), metric(P, "cpu"), metric(P, "memory")]
    weighted = score_metrics(metrics, classifier(groupWeights={"errors": 40, "latency": 40}))
    # cpu and memory share the remaining 20: 40*100 + 40*0 + 10*100 + 10*100 over 100.
    assert weighted.score == 60.0
    assert weighted.groups == {"errors": 100.0, "latency": 0.0, "cpu": 100.0, "memory": 100.0}
    equal = score_metrics(metrics, classifier())
    assert equal.score == 75.0


def test_weights_are_normalised_over_the_groups_that_have_data() -> None:
    metrics = [metric(P, "errors"), metric(H, "latency"), metric(ND, "cpu"), metric(P, "x")]
    score = score_metrics(
        metrics, classifier(groupWeights={"errors": 30, "latency": 10, "cpu": 60})
    )
    assert score.groups["cpu"] is None
    # x shares nothing (the weights reach 100); cpu has no data: 30*100 / (30 + 10).
    assert score.score == 75.0


@pytest.mark.parametrize(
    ("labels", "expected"),
    [((P,) * 19 + (H,), Verdict.PASS), ((P,) * 4 + (H,), Verdict.MARGINAL), ((P, H), Verdict.FAIL)],
)
def test_thresholds(labels: tuple[Classification, ...], expected: Verdict) -> None:
    thresholds = {"scoreThresholds": {"pass": 95, "marginal": 75}}
    assert (
        score_metrics([metric(label) for label in labels], classifier(**thresholds)).verdict
        is expected
    )


def test_thresholds_are_inclusive() -> None:
    score = score_metrics(
        [metric(P)] * 3 + [metric(H)], classifier(scoreThresholds={"pass": 75, "marginal": 50})
    )
    assert (score.score, score.verdict) == (75.0, Verdict.PASS)


def test_a_critical_failure_forces_zero() -> None:
    metrics = [metric(P, "a"), metric(P, "b"), metric(H, "c", critical=True)] + [
        metric(P, "d")
    ] * 20
    score = score_metrics(metrics, classifier(scoreThresholds={"pass": 0, "marginal": 0}))
    assert score.score == 0.0
    assert score.verdict is Verdict.FAIL  # even with thresholds of 0
    assert "critical metric failed" in score.reason


def test_nodata_on_half_the_metrics_forces_zero() -> None:
    half = score_metrics([metric(ND), metric(ND), metric(P), metric(P)], classifier())
    assert (half.score, half.verdict) == (0.0, Verdict.FAIL)
    assert "2 of 4 metrics have no data" in half.reason
    less = score_metrics([metric(ND), metric(P), metric(P)], classifier())
    assert (less.score, less.verdict) == (100.0, Verdict.PASS)


def test_muted_metrics_do_not_count() -> None:
    metrics = [metric(P), metric(H, muted=True), metric(ND, muted=True), metric(ND, muted=True)]
    score = score_metrics(metrics, classifier())
    assert (score.score, score.verdict) == (100.0, Verdict.PASS)
    all_muted = score_metrics([metric(P, muted=True)], classifier())
    assert all_muted.verdict is Verdict.FAIL


def test_only_nodata_never_passes() -> None:
    score = score_metrics([metric(ND)], classifier(scoreThresholds={"pass": 0, "marginal": 0}))
    assert score.verdict is Verdict.FAIL
    assert score.groups == {"g": None}
