"""What an analysis step runs: its templates merged into one run, with the rollout's variables."""

from __future__ import annotations

from serinus.core.analysis.spec import AnalysisTemplateSpec
from serinus.core.spec import AnalysisStep, RolloutSpec
from serinus.core.status import RolloutStatus

BACKGROUND_RUN = "background"


def run_name(step_index: int) -> str:
    return f"step-{step_index}"


def template_for(spec: RolloutSpec, step: AnalysisStep) -> AnalysisTemplateSpec:
    """The step's templates as one (Argo merges them the same way): args and metrics joined."""
    chosen = [t for t in spec.analysis_templates if t.name in step.templates]
    args = {arg.name: arg for template in chosen for arg in template.args}
    metrics = [metric for template in chosen for metric in template.metrics]
    return AnalysisTemplateSpec(args=list(args.values()), metrics=metrics)


def variables(name: str, status: RolloutStatus, step: AnalysisStep) -> dict[str, str]:
    """The step's args plus what serinus knows of the rollout, for `{{...}}` in queries."""
    found: dict[str, str] = {"rollout.name": name}
    for role, revision in (("canary", status.canary), ("stable", status.stable)):
        if revision is not None:
            found[f"{role}.version"] = revision.version
            found[f"{role}.color"] = revision.color
    return {**found, **step.args}
