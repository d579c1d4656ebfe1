"""Invariants of the model-based test (tests/unit/app/test_model.py) about one reconcile's result.

Each function returns the violations it found (empty when the invariant holds); `ModelWorld`
raises them. These are the checks that make the model fail when one safety guard is removed:
the router forgets a torn-down color's endpoints, analysis runs end with the step or rollout
that owns them, a canary is rolled out only beside a version that went live, the background
analysis keeps guarding while the rollout progresses, and a leaving version is never
provisioned again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from serinus.core.actions import Action, EnsureVersion
from serinus.core.analysis.run import AnalysisRunState
from serinus.core.status import COLORS, Color, Endpoint, Observed, Phase, RolloutStatus
from serinus.core.strategy.analysis_step import run_name

# Phases in which no analysis can change the outcome any more: no run may be left running.
SETTLED = frozenset({Phase.ABORTED, Phase.FAILED, Phase.COMPLETED, Phase.SCALING_DOWN})
# Phases in which a rollout goes through its steps (a pause or a judgement step included).
GUARDED = frozenset({Phase.PROGRESSING, Phase.PAUSED, Phase.AWAITING_JUDGEMENT})


def running(run: AnalysisRunState | None) -> bool:
    return run is not None and not run.completed


def router_forgets_gone_colors(
    listed: Mapping[Color, Sequence[Endpoint]], observed: Observed
) -> list[str]:
    """The router lists no ready endpoint of a color the platform did not report running."""
    return [
        f"the router lists ready endpoints of {color}, which the platform does not run"
        for color in COLORS
        if color not in observed.colors and any(e.ready for e in listed.get(color, ()))
    ]


def analysis_ends_with_its_step(status: RolloutStatus) -> list[str]:
    """No run is left running once nothing it measures can change the outcome."""
    found = []
    if status.phase in SETTLED:
        for what, run in (("step", status.analysis), ("background", status.background_analysis)):
            if running(run):
                found.append(
                    f"the {what} analysis still runs although the rollout is {status.phase}"
                )
    run = status.analysis
    if run is not None and running(run) and run.name != run_name(status.step_index):
        found.append(f"the analysis {run.name} still runs at step {status.step_index}")
    return found


def provider_call_can_matter(status: RolloutStatus | None, background: bool) -> str | None:
    """A provider is asked only for a running run of the current step (or the background one)
    of a rollout that is not settled; the reason it should not have been asked, else None."""
    if status is None or status.canary is None or status.phase in SETTLED:
        phase = status.phase if status is not None else None
        return f"a provider was asked to measure while the rollout is {phase}"
    run = status.background_analysis if background else status.analysis
    if not running(run):
        return f"a provider was asked to measure for a {'background ' * background}run that ended"
    if not background and run is not None and run.name != run_name(status.step_index):
        return f"a provider was asked to measure {run.name} at step {status.step_index}"
    return None


def guarding(status: RolloutStatus | None, starting_step: int, steps: int) -> bool:
    """Whether the rollout progresses past the background analysis' startingStep, unpaused."""
    return (
        status is not None
        and status.canary is not None
        and status.phase in GUARDED
        and status.step_started_at is not None
        and starting_step <= status.step_index < steps
        and not status.paused_by_user
    )


def background_keeps_guarding(
    before: RolloutStatus | None, after: RolloutStatus, starting_step: int, steps: int
) -> list[str]:
    """A rollout that was and still is progressing past startingStep has a background run of
    its own revision that is still running (one reconcile may pass startingStep first)."""
    if not (guarding(before, starting_step, steps) and guarding(after, starting_step, steps)):
        return []
    assert before is not None
    if before.revision != after.revision:
        return []
    run = after.background_analysis
    if run is None or run.completed or run.started_at < (after.rollout_started_at or 0):
        state = "none" if run is None else f"{run.phase} since {run.started_at}"
        return [
            f"{after.phase} at step {after.step_index} without a background analysis running "
            f"({state})"
        ]
    return []


def canary_beside_live(status: RolloutStatus, live: set[str]) -> list[str]:
    """A canary is rolled out only beside a stable version that went live (a first deployment
    aborted or failed before it served is replaced in place, never kept as stable)."""
    stable = status.stable
    if status.canary is None or stable is None or stable.version in live:
        return []
    return [f"{status.canary.version} is rolled out beside {stable.version}, which never went live"]


def no_leaving_provisioned(
    actions: Sequence[Action], status: RolloutStatus, observed: Observed
) -> list[str]:
    """No replica of a version its color is tearing down is started again (the stable one
    excepted: an abort of a rolling update scales it back up): not on a color that runs
    nothing or another version, nor more of it than the color runs."""
    found = []
    stable = status.stable.version if status.stable is not None else None
    leaving = {(t.color, t.version) for t in status.teardowns}
    for action in actions:
        if not isinstance(action, EnsureVersion) or action.version == stable:
            continue
        have = observed.color(action.color)
        starts = have.version != action.version or have.desired < action.replicas
        if starts and (action.color, action.version) in leaving:
            found.append(
                f"provisioned {action.version} on {action.color} again while tearing it down"
            )
    return found
