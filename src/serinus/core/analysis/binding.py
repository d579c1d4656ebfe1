"""Checks of an analysis step against the templates it names, before anything runs.

A rollout's analysis step (or its background analysis) binds templates to arguments: the engine
merges the named templates into one run, fills `{{...}}` variables from the template defaults,
the step's `args` and what it knows of the rollout, and validates each metric again. Everything
that would fail there, on every reconcile, is found here instead so `serinus lint` and the
operator refuse the spec:

- two templates of one step with a metric of the same name (the merged run is invalid);
- two templates declaring the same argument with different default values;
- a declared argument without a value that the step does not pass;
- a variable that nothing supplies (neither the templates' args, the step's args, nor the
  engine's `ENGINE_VARIABLES`);
- a metric that is no longer valid once its variables are filled in (e.g. an argument that
  makes a condition unparsable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from serinus.core.analysis.spec import AnalysisTemplateSpec, Metric
from serinus.core.analysis.templating import (
    ARGS_PREFIX,
    VARIABLE,
    render_data,
    strings_in,
    variables_in,
)
from serinus.core.errors import InvalidInput
from serinus.core.spec_base import duplicated

# What `core.strategy.analysis_step.variables` supplies, with a stand-in value of the right shape
# for the render check (a test keeps the two in step).
ENGINE_VARIABLES: Mapping[str, str] = {
    "rollout.name": "rollout",
    "canary.version": "v2",
    "canary.color": "green",
    "stable.version": "v1",
    "stable.color": "blue",
}


def binding_problems(
    where: str,
    names: Sequence[str],
    step_args: Mapping[str, str],
    templates: Sequence[AnalysisTemplateSpec],
    template_names: Sequence[str],
) -> list[str]:
    """Problems of a step naming `names` with `step_args`, as `where...: message` lines.

    `templates[i]` is the template called `template_names[i]` (the rollout's own).
    """
    chosen = [
        (template_names[i], template)
        for i, template in enumerate(templates)
        if template_names[i] in names
    ]
    problems: list[str] = []
    if twice := duplicated(names):
        problems.append(f"{where}.templates: {', '.join(twice)} listed more than once")
    owner: dict[str, str] = {}
    for template_name, template in chosen:
        for metric in template.metrics:
            first = owner.setdefault(metric.name, template_name)
            if first != template_name:
                problems.append(
                    f"{where}.templates: metric {metric.name!r} is in both {first!r} and "
                    f"{template_name!r}; metric names must be unique across a step's templates"
                )
    values, problems_of_args = _argument_values(where, chosen, step_args)
    problems += problems_of_args
    if problems:
        return problems
    known = {**values, **ENGINE_VARIABLES, **step_args}
    for template_name, template in chosen:
        for index, metric in enumerate(template.metrics):
            problems += _metric_problems(
                f"{where}({template_name}).metrics[{index}]", metric, known
            )
    return problems


def _argument_values(
    where: str, chosen: Sequence[tuple[str, AnalysisTemplateSpec]], step_args: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    declared_by: dict[str, str] = {}
    problems: list[str] = []
    for template_name, template in chosen:
        for arg in template.args:
            if arg.value is None:
                continue
            if arg.name in values and values[arg.name] != arg.value and arg.name not in step_args:
                problems.append(
                    f"{where}: argument {arg.name!r} has different values in "
                    f"{declared_by[arg.name]!r} and {template_name!r}; pass it in args"
                )
            values[arg.name] = arg.value
            declared_by.setdefault(arg.name, template_name)
    for template_name, template in chosen:
        for arg in template.args:
            if arg.value is None and arg.name not in step_args and arg.name not in values:
                problems.append(
                    f"{where}.args: {arg.name!r} is required by template {template_name!r} "
                    "and has no value"
                )
    return values, problems


def _metric_problems(where: str, metric: Metric, known: Mapping[str, str]) -> list[str]:
    data = metric.model_dump(by_alias=True, exclude_none=True)
    problems = []
    for path, text in strings_in(data, where):
        for variable in variables_in(text):
            if variable.removeprefix(ARGS_PREFIX) not in known:
                problems.append(
                    f"{path}: {{{{{variable}}}}} is not supplied by the templates' args, the "
                    f"step's args or serinus ({', '.join(ENGINE_VARIABLES)})"
                )
    if problems:
        return problems
    if not any(VARIABLE.search(text) for _, text in strings_in(data, where)):
        return []
    try:
        Metric.model_validate(render_data(data, known, where))
    except InvalidInput as exc:
        return list(exc.problems)
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        return [f"{where}: invalid once its variables are filled in: {reasons}"]
    return []
