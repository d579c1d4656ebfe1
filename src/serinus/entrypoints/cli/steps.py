"""A rollout's position in words: the current step, how long it has waited, and what comes next.

Everything here is a pure function of the spec, the status and the time `now`, so `get`, `list`,
the live view and `-o json` say the same thing and tests can fix the clock. A step itself is put
in words by `entrypoints.describing` (`spoken`), shared with the API.
"""

from __future__ import annotations

from serinus.core.spec import Rollout, Step
from serinus.core.status import Phase, RolloutStatus
from serinus.core.strategy.plan import plan_for
from serinus.entrypoints.cli.clock import duration
from serinus.entrypoints.describing import spoken


def describe_step(rollout: Rollout, index: int) -> str:
    """`step 2/4: judgement (...)`, or the strategy's name when it has no steps."""
    steps = plan_for(rollout.spec).steps
    if not steps:
        return rollout.spec.strategy.kind
    if index >= len(steps):
        return f"all {len(steps)} steps done"
    return f"step {index + 1}/{len(steps)}: {spoken(steps[index])}"


def current_step(rollout: Rollout, status: RolloutStatus) -> Step | None:
    steps = plan_for(rollout.spec).steps
    if status.canary is None or status.step_index >= len(steps):
        return None
    return steps[status.step_index]


def waiting(rollout: Rollout, status: RolloutStatus, now: float) -> str:
    """How long the current step has waited and, when it has one, when its timer ends."""
    step = current_step(rollout, status)
    if step is None or status.step_started_at is None or status.terminal:
        return ""
    elapsed = now - status.step_started_at
    text = f"waiting {duration(elapsed)}"
    timer: float | None = None
    if step.pause is not None and status.phase is Phase.PAUSED:
        timer = step.pause.duration
        label = "resumes in"
    elif step.judgement is not None and status.phase is Phase.AWAITING_JUDGEMENT:
        timer = step.judgement.timeout
        label = "times out in"
    if timer is not None and not status.paused_by_user:
        text += f", {label} {duration(timer - elapsed)}"
    return text


def position(rollout: Rollout, status: RolloutStatus, now: float) -> str:
    """`step 2/4: judgement (...), waiting 3m12s, times out in 26m48s`."""
    if status.canary is None:
        return ""
    where = describe_step(rollout, status.step_index)
    wait = waiting(rollout, status, now)
    return f"{where}, {wait}" if wait else where


def next_action(rollout: Rollout, status: RolloutStatus, now: float) -> str:
    """What happens next, and the command that makes it happen when a person has to act."""
    name = rollout.name
    phase = status.phase
    if status.paused_by_user and not status.terminal:
        return f"held by a user: `serinus resume {name}` continues"
    if phase is Phase.AWAITING_JUDGEMENT:
        step = current_step(rollout, status)
        on_timeout = step.judgement.on_timeout if step and step.judgement else "abort"
        timeout = step.judgement.timeout if step and step.judgement else None
        then = f"; without a decision it will {on_timeout} on timeout" if timeout else ""
        return f"a person decides: `serinus judge {name} --approve` or `--reject`{then}"
    if phase is Phase.PAUSED:
        step = current_step(rollout, status)
        following = _following(rollout, status.step_index + 1)
        if step is not None and step.pause is not None and step.pause.duration is not None:
            return f"{following} when the pause ends, or now with `serinus promote {name}`"
        return f"`serinus promote {name}` continues: {following}"
    if phase in (Phase.PENDING, Phase.PROVISIONING):
        return "the canary's replicas start, then the first step"
    if phase is Phase.PROGRESSING:
        return f"{_following(rollout, status.step_index + 1)} once this step is done"
    if phase in (Phase.PROMOTING, Phase.SCALING_DOWN):
        return _teardown(status, now) or "the old version scales down"
    if phase is Phase.COMPLETED:
        serving = status.stable.version if status.stable else "the stable version"
        return f"nothing: {serving} serves all traffic"
    if phase in (Phase.ABORTED, Phase.FAILED):
        options = [f"`serinus retry {name}` runs the steps again"]
        if status.previous_version is not None:
            options.append(f"`serinus undo {name}` rolls {status.previous_version} out")
        scale = _teardown(status, now)
        return "; ".join(
            ["all traffic is on stable", " or ".join(options), *([scale] if scale else [])]
        )
    return ""


def _following(rollout: Rollout, index: int) -> str:
    steps = plan_for(rollout.spec).steps
    if index >= len(steps):
        return "promotion to 100%"
    return f"step {index + 1}/{len(steps)} ({spoken(steps[index])})"


def _teardown(status: RolloutStatus, now: float) -> str:
    if not status.teardowns:
        return ""
    first = min(status.teardowns, key=lambda t: t.due)
    return f"{first.version} ({first.color}) scales down in {duration(first.due - now)}"
