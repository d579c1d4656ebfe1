"""AnalysisTemplate validation: what `serinus lint` rejects before anything runs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from serinus.core.analysis.spec import AnalysisTemplateSpec, Metric, load_template
from serinus.core.errors import InvalidInput

PROM = {"prometheus": {"address": "http://prom:9090", "query": "up"}}


def template(metrics: list[dict[str, Any]], args: list[dict[str, Any]] | None = None) -> str:
    document = {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "success-rate"},
        "spec": {"args": args or [], "metrics": metrics},
    }
    return yaml.safe_dump(document)


def metric(**fields: Any) -> dict[str, Any]:
    return {"name": "m", "successCondition": "result[0] > 0", "provider": PROM, **fields}


def problems(text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        load_template(text)
    return "\n".join(caught.value.problems)


def test_a_full_template_loads_with_argo_defaults() -> None:
    loaded = load_template(
        template(
            [
                {
                    "name": "success-rate",
                    "interval": "30s",
                    "count": 5,
                    "initialDelay": "1m",
                    "failureLimit": 1,
                    "successCondition": "result[0] >= {{args.threshold}}",
                    "provider": {
                        "prometheus": {
                            "address": "https://prom:9090",
                            "query": 'sum(rate(x{service="{{args.service}}"}[1m]))',
                            "timeout": "5s",
                            "authentication": {"bearerTokenFrom": {"env": "PROM_TOKEN"}},
                            "tls": {"insecureSkipVerify": True},
                            "range": {"start": "5m", "step": "15s"},
                        }
                    },
                },
                {
                    "name": "health",
                    "failureCondition": "result[0] == 0",
                    "dryRun": True,
                    "provider": {"command": {"command": ["true"]}},
                },
                {
                    "name": "web",
                    "successCondition": "result[0] == 1",
                    "provider": {"web": {"url": "http://x/status", "jsonPath": "{$.data.ok}"}},
                },
            ],
            args=[{"name": "service"}, {"name": "threshold", "value": "0.99"}],
        )
    )
    first, health, web = loaded.spec.metrics
    assert (first.interval, first.initial_delay, first.count, first.effective_count) == (
        30.0,
        60.0,
        5,
        5,
    )
    assert (first.failure_limit, first.inconclusive_limit, first.consecutive_error_limit) == (
        1,
        0,
        4,
    )
    assert first.provider is not None and first.provider.kind == "prometheus"
    assert health.effective_count == 1 and health.dry_run
    assert web.provider is not None and web.provider.kind == "web"


def test_interval_without_count_runs_until_terminated() -> None:
    loaded = Metric.model_validate(metric(interval="10s"))
    assert loaded.effective_count is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"successCondition": "result[0].real > 1"}, "successCondition: attribute access"),
        ({"failureCondition": "__import__('os')"}, "failureCondition: this call"),
        ({"successCondition": "result[0] >="}, "successCondition: syntax error at column"),
        ({"successCondition": None}, "needs successCondition or failureCondition"),
        ({"count": 0}, "count: Input should be greater than or equal to 1"),
        ({"failureLimit": -1}, "failureLimit"),
        ({"interval": "0s"}, "interval"),
        ({"interval": "soon"}, "invalid duration"),
        ({"provider": {"prometheus": {"address": "prom:9090", "query": "up"}}}, "address"),
        ({"provider": {"prometheus": {"address": "http://p", "query": ""}}}, "query is required"),
        ({"provider": {"graphite": {}}}, "graphite: unknown field"),
        ({"provider": {}}, "provider needs exactly one of: prometheus, web, command, job (got 0)"),
        ({"provider": {**PROM, "command": {"command": ["true"]}}}, "exactly one of"),
        ({"provider": {"web": {"url": "http://x", "jsonPath": "$..x"}}}, "recursive descent"),
        ({"provider": {"web": {"url": "http://x", "jsonPath": "data"}}}, "starts with $"),
        ({"provider": {"command": {"command": []}}}, "command.command"),
        ({"sucessCondition": "result[0] > 1"}, "sucessCondition: unknown field"),
        (
            {
                "provider": {
                    "prometheus": {
                        **PROM["prometheus"],
                        "range": {"start": "1m", "end": "5m", "step": "1s"},
                    }
                }
            },
            "range.end must be more recent",
        ),
        (
            {
                "provider": {
                    "prometheus": {
                        **PROM["prometheus"],
                        "range": {"start": "24h", "step": "1s"},
                    }
                }
            },
            "more than 11000 points",
        ),
        (
            {
                "provider": {
                    "prometheus": {
                        **PROM["prometheus"],
                        "authentication": {
                            "bearerTokenFrom": {"env": "T"},
                            "basic": {"username": "u", "passwordFrom": {"env": "P"}},
                        },
                    }
                }
            },
            "authentication needs exactly one of",
        ),
    ],
)
def test_invalid_metrics_are_rejected_naming_the_field(
    fields: dict[str, Any], expected: str
) -> None:
    found = problems(template([metric(**fields)]))
    assert expected in found
    assert found.startswith("spec.metrics[0]")


def test_undeclared_argument_is_rejected() -> None:
    found = problems(
        template(
            [metric(provider={"prometheus": {"address": "http://p", "query": "{{args.svc}}"}})]
        )
    )
    assert "metrics[0].provider.prometheus.query: {{args.svc}} names an undeclared argument" in (
        found
    )


def test_engine_variables_are_left_for_run_time() -> None:
    loaded = load_template(
        template(
            [
                metric(
                    provider={
                        "prometheus": {"address": "http://p", "query": "up{ {{canary.selector}} }"}
                    }
                )
            ]
        )
    )
    assert loaded.spec.metrics[0].name == "m"


def test_duplicate_names_are_rejected() -> None:
    assert "metrics: duplicate names: m" in problems(template([metric(), metric()]))
    assert "args: duplicate names: a" in problems(
        template([metric()], args=[{"name": "a"}, {"name": "a"}])
    )


def test_a_template_needs_metrics_and_the_right_kind() -> None:
    assert "spec.metrics" in problems(template([]))
    assert "kind" in problems(template([metric()]).replace("AnalysisTemplate", "Rollout"))
    with pytest.raises(InvalidInput, match="expected a mapping"):
        load_template("- just a list")


def test_comparison_metric_validation() -> None:
    comparison = {
        "provider": {
            "prometheus": {"address": "http://p", "range": {"start": "5m", "step": "10s"}}
        },
        "baselineQuery": "rate(errors{color='blue'}[1m])",
        "canaryQuery": "rate(errors{color='green'}[1m])",
        "canaryConfig": {"direction": "increase", "critical": True},
        "judge": {"confidenceLevel": 0.95},
    }
    loaded = Metric.model_validate({"name": "errors", "comparison": comparison})
    assert loaded.comparison is not None
    baseline, canary = loaded.comparison.sources()
    assert baseline.query.startswith("rate(errors{color='blue'}")
    assert canary.query.startswith("rate(errors{color='green'}")
    assert loaded.comparison.canary_config.is_critical

    def rejected(**changes: Any) -> str:
        with pytest.raises(ValueError) as caught:
            Metric.model_validate({"name": "errors", **changes})
        return str(caught.value)

    assert "judged by its canaryConfig" in rejected(
        comparison=comparison, successCondition="result[0] > 1"
    )
    assert "leave provider.prometheus.query empty" in rejected(
        comparison={**comparison, "provider": PROM}
    )
    assert "prometheus provider only" in rejected(
        comparison={**comparison, "provider": {"command": {"command": ["true"]}}}
    )
    assert "set dryRun" in rejected(comparison={**comparison, "canaryConfig": {"muted": True}})
    assert "critcal" in rejected(comparison={**comparison, "canaryConfig": {"critcal": True}})
    assert "exactly one of: provider, comparison" in rejected(comparison=comparison, provider=PROM)
    # Kayenta's settings are finite (an infinite tolerance would pass any canary).
    assert "comparison.judge.tolerance: inf is not a finite number" in rejected(
        comparison={**comparison, "judge": {"tolerance": float("inf")}}
    )
    infinite = {"effectSize": {"allowedIncrease": float("inf")}}
    assert "canaryConfig.effectSize.allowedIncrease: inf" in rejected(
        comparison={**comparison, "canaryConfig": infinite}
    )


def test_conditions_may_use_arguments() -> None:
    spec = AnalysisTemplateSpec.model_validate(
        {
            "args": [{"name": "limit", "value": "0.5"}],
            "metrics": [metric(successCondition="result[0] < {{args.limit}}")],
        }
    )
    assert spec.metrics[0].success_condition == "result[0] < {{args.limit}}"
