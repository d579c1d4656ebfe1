"""`serinus status` and `get --exit-status`: distinct exit codes for each outcome, so CI can gate
on a rollout (0 Completed, 3 Aborted, 4 Failed, 5 Degraded, 6 not done yet)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from serinus.core.status import Phase, Revision, RolloutStatus

if TYPE_CHECKING:
    from conftest import State


def finished(phase: Phase, *, ready: int = 3) -> RolloutStatus:
    on_stable = phase is not Phase.COMPLETED
    return RolloutStatus(
        phase=phase,
        stable=Revision(version="v1" if on_stable else "v2", color="blue"),
        canary=Revision(version="v2", color="green") if on_stable else None,
        weights={"blue": 100},
        replicas={"blue": 3},
        ready={"blue": ready},
        message=f"the rollout is {phase}",
        converged=True,
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (finished(Phase.COMPLETED), 0),
        (finished(Phase.ABORTED), 3),
        (finished(Phase.FAILED), 4),
        (finished(Phase.COMPLETED, ready=1), 5),  # stable short of replicas: Degraded
    ],
    ids=["completed", "aborted", "failed", "degraded"],
)
@pytest.mark.parametrize(
    "command",
    [["status", "web"], ["get", "web", "--exit-status"], ["get", "web", "-w", "--exit-status"]],
)
def test_each_outcome_has_its_own_exit_code(
    state: State, status: RolloutStatus, code: int, command: list[str]
) -> None:
    state.put(status)

    done = state.cli(*command)

    assert done.exit_code == code, done.stdout + done.stderr
    assert str(status.phase) in done.stdout


def test_a_rollout_in_progress_is_not_done_without_waiting(state: State) -> None:
    progressing = finished(Phase.ABORTED).model_copy(
        update={"phase": Phase.PROGRESSING, "weights": {"blue": 90, "green": 10},
                "replicas": {"blue": 3, "green": 3}, "ready": {"blue": 3, "green": 3}}
    )  # fmt: skip
    state.put(progressing)

    assert state.cli("status", "web", "--no-wait").exit_code == 6
    assert state.cli("status", "web", "--timeout", "0").exit_code == 6
    assert state.cli("get", "web", "--exit-status").exit_code == 6


def test_traffic_on_a_version_with_nothing_ready_is_degraded_while_progressing(
    state: State,
) -> None:
    stranded = finished(Phase.ABORTED).model_copy(
        update={"phase": Phase.PROGRESSING, "weights": {"blue": 90, "green": 10},
                "replicas": {"blue": 3, "green": 3}, "ready": {"blue": 3, "green": 0}}
    )  # fmt: skip
    state.put(stranded)

    done = state.cli("status", "web", "--no-wait")

    assert done.exit_code == 5
    assert "Degraded: v2 (green) takes 10% of traffic with no ready replica" in done.stdout


def test_status_waits_until_the_rollout_ends(state: State) -> None:
    """Waiting reads the store until the outcome: here the driver already finished."""
    state.put(finished(Phase.ABORTED))

    assert state.cli("status", "web").exit_code == 3


def test_an_unknown_rollout_is_an_error_not_an_outcome(state: State) -> None:
    state.put(finished(Phase.COMPLETED))

    done = state.cli("status", "nope")

    assert done.exit_code == 1
    assert "rollout 'nope' not found" in done.stderr


def test_status_follows_the_rollout_until_its_outcome(
    state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver completes the rollout after `status` first looked: it prints the change and
    exits 0 once the stored status says Completed."""
    from serinus.adapters.stores.sqlite import SqliteStateStore
    from serinus.entrypoints.cli import status as status_command

    progressing = finished(Phase.ABORTED).model_copy(
        update={"phase": Phase.PROGRESSING, "converged": False}
    )
    state.put(progressing)
    real_fetch = status_command.fetch
    looks: list[Phase | None] = []

    async def fetch_then_finish(store: object, name: str) -> object:
        found = await real_fetch(store, name)  # type: ignore[arg-type]
        looks.append(found[1].phase if found[1] else None)
        if len(looks) == 1:  # the driver finishes between two looks
            driver = SqliteStateStore(state.database)
            await driver.save(name, finished(Phase.COMPLETED), [], [])
            await driver.close()
        return found

    monkeypatch.setattr(status_command, "fetch", fetch_then_finish)
    monkeypatch.setattr(status_command, "POLL_SECONDS", 0.01)

    done = state.cli("status", "web")

    assert done.exit_code == 0, done.stdout
    assert looks == [Phase.PROGRESSING, Phase.COMPLETED]
    first, last = done.stdout.splitlines()
    assert first.startswith("web: Progressing") and last.startswith("web: Completed")
