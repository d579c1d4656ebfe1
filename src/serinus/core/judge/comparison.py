"""The comparative judge: a Kayenta canary config and samples per metric in, a report out.

Every metric of the config is classified (a metric the samples lack is no data, and says so),
then scored. Samples for metrics the config does not name are ignored, as Kayenta ignores series
it was not asked for.
"""

from __future__ import annotations

from collections.abc import Mapping

from serinus.core.judge.canary_config import CanaryConfig
from serinus.core.judge.classify import classify_metric, no_data
from serinus.core.judge.report import JudgeReport
from serinus.core.judge.samples import MetricSamples
from serinus.core.judge.score import ScoredMetric, score_metrics


def compare(config: CanaryConfig, samples: Mapping[str, MetricSamples]) -> JudgeReport:
    judge = config.judge.judge_configurations
    scored: list[ScoredMetric] = []
    for metric in config.metrics:
        sample = samples.get(metric.name)
        if sample is None:
            why = "the data has no samples for this metric"
            result = no_data(metric.name, metric.canary, why, compat=judge.compat)
        else:
            result = classify_metric(
                metric.name, sample.canary, sample.baseline, metric.canary, judge
            )
        scored.append(ScoredMetric(groups=tuple(metric.groups), result=result))
    score = score_metrics(scored, config.classifier)
    return JudgeReport(
        metrics=tuple(item.result for item in scored),
        groups=score.groups,
        score=score.score,
        verdict=score.verdict,
        reason=score.reason,
    )
