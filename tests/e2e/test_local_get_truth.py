"""`serinus get` tells the truth once a local rollout is over (issue 8): the old version's replicas
are shown gone, and they are gone from the process table.

Regression: 52 of 53 completed rollouts still showed the torn-down version's replicas as ready.
Each case runs real `serinus run` processes, real HAProxy and real replicas to the end, then
reads `serinus get -o json` as a user would.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

import pytest
from local_mode import LocalMode, free_port, rollout_document

from serinus.adapters.platforms.process.census import find_replicas
from serinus.core.status import Phase

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy"),
]
COMPLETED_EXIT, ABORTED_EXIT = 0, 3
DEADLINE_SECONDS = 20.0


def canary(version: str, port: int, steps: list[dict[str, Any]]) -> dict[str, Any]:
    document = rollout_document(version, port, replicas=3, steps=steps)
    document["spec"]["strategy"]["blueGreenCanary"].update(
        {"scaleDownDelay": 1, "abortScaleDownDelay": 1}
    )
    return document


def rolling(version: str, port: int) -> dict[str, Any]:
    document = rollout_document(version, port, replicas=3)
    document["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    return document


def shown(local: LocalMode) -> dict[str, Any]:
    result = local.cli("get", "web", "-o", "json")
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def with_replicas(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in view["revisions"] if r["replicas"] or r["ready"]]


def wait_until_only(local: LocalMode, version: str) -> dict[str, Any]:
    """`serinus get` once it shows only `version` with replicas (or the last view, at the
    deadline): another version's revision (an aborted canary, kept for a retry) has none."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        view = shown(local)
        others = [r for r in with_replicas(view) if r["version"] != version]
        color = view["status"]["stable"]["color"]
        stale = {c: n for c, n in view["status"]["ready"].items() if c != color and n}
        if (not others and not stale) or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def assert_only_version_shown_and_running(local: LocalMode, version: str) -> None:
    view = wait_until_only(local, version)
    status = view["status"]
    color = status["stable"]["color"]
    assert status["stable"]["version"] == version, status
    assert [(r["version"], r["ready"]) for r in with_replicas(view)] == [(version, 3)], view
    assert {c: n for c, n in status["ready"].items() if n} == {color: 3}, status["ready"]
    running = find_replicas(local.state_dir / "rollouts" / "web" / "replicas", "web")
    assert sorted((r.color, r.version) for r in running) == [(color, version)] * 3, running


@pytest.mark.parametrize("steps", [[{"setWeight": 50}, {"pause": {"duration": 1}}], []])
def test_a_completed_canary_shows_the_old_version_gone(
    local: LocalMode, steps: list[dict[str, Any]]
) -> None:
    port = free_port()
    local.finish(local.start_run(local.write(canary("v1", port, steps), "v1.yaml")))
    run = local.start_run(local.write(canary("v2", port, steps), "v2.yaml"))
    assert run.wait(timeout=90) == COMPLETED_EXIT, local.output(run)
    assert_only_version_shown_and_running(local, "v2")


def test_an_aborted_canary_shows_the_canary_gone(local: LocalMode) -> None:
    port = free_port()
    steps = [{"setWeight": 50}, {"pause": {}}]
    local.finish(local.start_run(local.write(canary("v1", port, steps), "v1.yaml")))
    run = local.start_run(local.write(canary("v2", port, steps), "v2.yaml"))
    local.wait_for({Phase.PAUSED}, version="v2")
    aborted = local.cli("abort", "web", "-m", "get truth")
    assert aborted.returncode == 0, aborted.stderr
    assert run.wait(timeout=90) == ABORTED_EXIT, local.output(run)
    assert_only_version_shown_and_running(local, "v1")


def test_a_completed_rolling_update_shows_the_old_version_gone(local: LocalMode) -> None:
    port = free_port()
    local.finish(local.start_run(local.write(rolling("v1", port), "v1.yaml")))
    run = local.start_run(local.write(rolling("v2", port), "v2.yaml"))
    assert run.wait(timeout=90) == COMPLETED_EXIT, local.output(run)
    assert_only_version_shown_and_running(local, "v2")
