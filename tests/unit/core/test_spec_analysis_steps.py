"""An analysis step is checked against its templates as the engine will bind them.

Each rule here is a spec that passed lint before and then failed on every reconcile (the merged
template invalid, a variable nobody supplies, a required argument without a value), or one of
Argo Rollouts' own validations (count against the limits, count > 1 without interval).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from serinus.core.analysis.binding import ENGINE_VARIABLES
from serinus.core.spec import AnalysisStep, Rollout
from serinus.core.status import Revision, RolloutStatus
from serinus.core.strategy.analysis_step import variables


def metric(name: str = "errors", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "successCondition": "result[0] < 0.05",
        "provider": {"web": {"url": "http://metrics/", "jsonPath": "$.ratio"}},
        **fields,
    }


def rollout(
    templates: list[dict[str, Any]], step: dict[str, Any], background: dict[str, Any] | None = None
) -> dict[str, Any]:
    canary: dict[str, Any] = {"steps": [{"setWeight": 10}, {"analysis": step}]}
    if background is not None:
        canary["analysis"] = background
    return {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {
            "version": "v2",
            "workload": {"process": {"command": ["app", "{port}"]}},
            "trafficRouting": {"haproxy": {}},
            "strategy": {"canary": canary},
            "analysisTemplates": templates,
        },
    }


def refused(document: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        Rollout.model_validate(document)
    return str(caught.value)


TWO = [{"name": "a", "metrics": [metric()]}, {"name": "b", "metrics": [metric()]}]


def test_the_same_metric_name_in_two_templates_of_a_step_is_refused() -> None:
    # Before: lint passed, then decide() raised pydantic's ValidationError on every reconcile.
    message = refused(rollout(TWO, {"templates": ["a", "b"]}))
    assert (
        "strategy.canary.steps[1].analysis.templates: metric 'errors' is in both 'a' and 'b'"
        in (message)
    )
    message = refused(rollout(TWO, {"templates": ["a"]}, background={"templates": ["a", "b"]}))
    assert "strategy.canary.analysis.templates: metric 'errors'" in message
    # Each template alone, or both with distinct metric names, is fine.
    Rollout.model_validate(rollout(TWO, {"templates": ["a"]}, background={"templates": ["b"]}))
    distinct = copy.deepcopy(TWO)
    distinct[1]["metrics"] = [metric("latency")]
    Rollout.model_validate(rollout(distinct, {"templates": ["a", "b"]}))


def test_a_template_listed_twice_is_refused() -> None:
    assert "a listed more than once" in refused(rollout(TWO, {"templates": ["a", "a"]}))


@pytest.mark.parametrize("variable", ["canary.selector", "rollout.namespace", "stable"])
def test_a_variable_nothing_supplies_is_refused(variable: str) -> None:
    templates = [
        {"name": "a", "metrics": [metric(successCondition=f"result[0] < {{{{{variable}}}}}")]}
    ]
    message = refused(rollout(templates, {"templates": ["a"]}))
    assert f"{{{{{variable}}}}} is not supplied" in message
    assert "steps[1].analysis(a).metrics[0].successCondition" in message


def test_an_undeclared_argument_is_refused_by_the_template_itself() -> None:
    templates = [{"name": "a", "metrics": [metric(successCondition="result[0] < {{args.x}}")]}]
    assert "{{args.x}} names an undeclared argument" in refused(
        rollout(templates, {"templates": ["a"]})
    )


@pytest.mark.parametrize(
    ("url", "args", "step_args"),
    [
        ("http://m/{{rollout.name}}/{{canary.version}}/{{stable.color}}", [], {}),
        ("http://m/{{args.service}}", [{"name": "service", "value": "web"}], {}),
        ("http://m/{{args.service}}", [{"name": "service"}], {"service": "web"}),
        ("http://m/{{service}}", [], {"service": "web"}),
    ],
)
def test_variables_the_engine_or_the_args_supply_are_accepted(
    url: str, args: list[dict[str, Any]], step_args: dict[str, str]
) -> None:
    source = {"web": {"url": url, "jsonPath": "$.ratio"}}
    templates = [{"name": "a", "args": args, "metrics": [metric(provider=source)]}]
    Rollout.model_validate(rollout(templates, {"templates": ["a"], "args": step_args}))


def test_a_required_argument_the_step_does_not_pass_is_refused() -> None:
    templates = [
        {
            "name": "a",
            "args": [{"name": "threshold"}],
            "metrics": [metric(successCondition="result[0] < {{args.threshold}}")],
        }
    ]
    message = refused(rollout(templates, {"templates": ["a"]}))
    assert "steps[1].analysis.args: 'threshold' is required by template 'a'" in message
    Rollout.model_validate(rollout(templates, {"templates": ["a"], "args": {"threshold": "0.1"}}))


def test_two_templates_disagreeing_on_an_argument_default_are_refused() -> None:
    templates = [
        {"name": "a", "args": [{"name": "t", "value": "1"}], "metrics": [metric()]},
        {"name": "b", "args": [{"name": "t", "value": "2"}], "metrics": [metric("other")]},
    ]
    assert "argument 't' has different values in 'a' and 'b'" in refused(
        rollout(templates, {"templates": ["a", "b"]})
    )
    Rollout.model_validate(rollout(templates, {"templates": ["a", "b"], "args": {"t": "3"}}))


def test_an_argument_that_breaks_the_metric_once_filled_in_is_refused() -> None:
    templates = [
        {
            "name": "a",
            "args": [{"name": "t"}],
            "metrics": [metric(successCondition="result[0] < {{args.t}}")],
        }
    ]
    message = refused(rollout(templates, {"templates": ["a"], "args": {"t": "0.1 +"}}))
    assert "steps[1].analysis(a).metrics[0]: invalid once its variables are filled in" in message


def test_background_analysis_starting_past_the_last_step_is_refused() -> None:
    templates = [{"name": "a", "metrics": [metric()]}]
    message = refused(
        rollout(templates, {"templates": ["a"]}, {"templates": ["a"], "startingStep": 2})
    )
    assert "analysis.startingStep: 2 is past the last step (there are 2)" in message
    Rollout.model_validate(
        rollout(templates, {"templates": ["a"]}, {"templates": ["a"], "startingStep": 1})
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"count": 1, "failureLimit": 2}, "count (1) must be >= failureLimit (2)"),
        ({"count": 2, "interval": "1m", "inconclusiveLimit": 3}, "must be >= inconclusiveLimit"),
        ({"count": 2}, "interval must be set when count > 1"),
    ],
)
def test_argo_metric_rules(fields: dict[str, Any], expected: str) -> None:
    templates = [{"name": "a", "metrics": [metric(**fields)]}]
    assert expected in refused(rollout(templates, {"templates": ["a"]}))


def test_argo_accepts_count_equal_to_the_limits() -> None:
    fields = {"count": 2, "interval": "1m", "failureLimit": 2, "inconclusiveLimit": 2}
    Rollout.model_validate(
        rollout([{"name": "a", "metrics": [metric(**fields)]}], {"templates": ["a"]})
    )


def test_engine_variables_are_what_the_engine_supplies() -> None:
    status = RolloutStatus(
        canary=Revision(version="v2", color="green"), stable=Revision(version="v1", color="blue")
    )
    supplied = variables("web", status, AnalysisStep(templates=["a"]))
    assert set(supplied) == set(ENGINE_VARIABLES)
