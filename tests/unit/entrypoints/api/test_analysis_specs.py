"""A sequential metric in the dashboard's analysis report: provider, its four counter queries,
and how it is judged (alpha, the boundary 1/alpha, minSamples), not "no provider"."""

from __future__ import annotations

from sequential_world import CANARY_REQUESTS, SEQUENTIAL_METRIC, rollout_document

from serinus.core.analysis.spec import Metric
from serinus.core.documents import validate_model
from serinus.core.spec import Rollout
from serinus.entrypoints.api.analysis_specs import _metric_spec, metric_specs


def test_a_sequential_metric_has_its_provider_queries_alpha_and_min_samples() -> None:
    [spec] = metric_specs(validate_model(Rollout, rollout_document(), "test"))
    assert spec.provider == "prometheus"
    lines = spec.query.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "canary.requests",
        "canary.errors",
        "baseline.requests",
        "baseline.errors",
    ]
    assert lines[0] == f"canary.requests: {CANARY_REQUESTS}"
    assert spec.judge == {
        "kind": "sequential",
        "alpha": 0.05,
        "boundary": 20.0,
        "minSamples": 200,
        "counts": "errors",
    }
    # judged by its evidence: no condition, no threshold line, and evidence has no unit
    assert (spec.success_condition, spec.failure_condition, spec.threshold) == (None, None, None)
    assert spec.unit == ""
    assert (spec.interval_seconds, spec.count, spec.failure_limit) == (1.0, 36, 0)


def test_the_slow_request_form_names_its_buckets_and_has_no_unit() -> None:
    buckets = {
        "requests": "sum(http_request_duration_seconds_count)",
        "bucket": 'sum(http_request_duration_seconds_bucket{le="0.25"})',
    }
    sequential = {**SEQUENTIAL_METRIC["sequential"], "canary": buckets, "baseline": buckets}
    spec = _metric_spec(Metric.model_validate({**SEQUENTIAL_METRIC, "sequential": sequential}))
    assert "canary.bucket: " + buckets["bucket"] in spec.query.splitlines()
    assert spec.judge is not None and spec.judge["counts"] == "slow"
    assert spec.unit == ""  # "seconds" in the queries is the counters', not the evidence's
