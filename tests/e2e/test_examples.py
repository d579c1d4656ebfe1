"""Every example lints, and runs end to end: first deployment, then a rollout to v2."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from local_mode import LocalMode, free_port, local_mode

from serinus.core.status import Phase

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = sorted(EXAMPLES.glob("*/rollout.yaml"))
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def local() -> Iterator[LocalMode]:
    names = [yaml.safe_load(file.read_text())["metadata"]["name"] for file in FILES]
    with local_mode(names) as mode:
        yield mode


def test_there_are_examples_each_with_a_readme() -> None:
    assert len(FILES) >= 3
    for file in FILES:
        assert (file.parent / "README.md").is_file()


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.parent.name)
def test_example_lints(file: Path, local: LocalMode) -> None:
    result = local.cli("lint", str(file))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def with_free_ports(document: dict[str, Any]) -> dict[str, Any]:
    routing = document["spec"]["trafficRouting"]["haproxy"]
    for key in ("port", "statsPort", "previewPort"):
        if key in routing:
            routing[key] = free_port()
    for strategy in document["spec"]["strategy"].values():
        for key in ("scaleDownDelay", "abortScaleDownDelay"):
            if key in strategy:
                strategy[key] = 0.5
        for step in strategy.get("steps", []):
            if "pause" in step and "duration" in step["pause"]:
                step["pause"]["duration"] = 0.5
    return document


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy")
@pytest.mark.parametrize("file", FILES, ids=lambda f: f.parent.name)
def test_example_rolls_out_v2(file: Path, local: LocalMode) -> None:
    document = with_free_ports(yaml.safe_load(file.read_text()))
    name = document["metadata"]["name"]
    first = local.start_run(local.write(document, f"{name}.yaml"))
    local.finish(first)
    assert first.returncode == 0, local.output(first)
    document["spec"]["version"] = "v2"
    run = local.start_run(local.write(document, f"{name}.yaml"))
    deadline = time.monotonic() + 60
    acted: set[tuple[int, Phase]] = set()
    while time.monotonic() < deadline:
        status = local.status(name)
        assert status is not None
        promoted = status.stable is not None and status.stable.version == "v2"
        if promoted and status.phase in (Phase.COMPLETED, Phase.SCALING_DOWN):
            break
        gate = (status.step_index, status.phase)
        if gate not in acted and status.phase is Phase.AWAITING_JUDGEMENT:
            answer = local.cli("judge", name, "--approve", "--input", "ticket=T-1")
            assert answer.returncode == 0, answer.stderr
            acted.add(gate)
        elif gate not in acted and status.message == "paused: promote to continue":
            answer = local.cli("promote", name)
            assert answer.returncode == 0, answer.stderr
            acted.add(gate)
        time.sleep(0.1)
    local.finish(run)
    assert run.returncode == 0, local.output(run)
    status = local.status(name)
    assert status is not None and status.stable is not None
    assert status.stable.version == "v2" and status.phase is Phase.COMPLETED
