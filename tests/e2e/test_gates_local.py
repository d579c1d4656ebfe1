"""Webhook gates end to end: real `serinus run`, real HAProxy and replicas, a real receiver."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest
from gate_receiver import receiving
from local_mode import LocalMode, free_port, local_mode, rollout_document

from serinus.core.gates import GatePhase
from serinus.core.status import Phase, RolloutStatus
from serinus.demo.scenario import LoadThread

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the Debian package haproxy"),
]
KEY = "e2e-gate-key"


@pytest.fixture
def local() -> Iterator[LocalMode]:
    with local_mode() as mode:
        mode.env["GATE_KEY"] = KEY
        yield mode


def held_calls(local: LocalMode, at_least: int, timeout: float = 60) -> RolloutStatus:
    """Wait until the confirmPromotion gate was called (and held) `at_least` times."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = local.status()
        gates = status.gates if status is not None else []
        if gates and gates[0].phase is GatePhase.PENDING and gates[0].calls >= at_least:
            assert status is not None
            return status
        time.sleep(0.1)
    raise AssertionError(f"the gate was not called {at_least} times: {local.status()}")


def test_a_confirm_promotion_gate_holds_under_load_then_promotes_when_it_opens(
    local: LocalMode,
) -> None:
    port = free_port()
    steps = [{"setWeight": 30}]
    local.finish(local.start_run(local.write(rollout_document("v1", port, steps=steps))))
    with receiving(answer=503, secret=KEY) as receiver:
        document = rollout_document("v2", port, steps=steps)
        document["spec"]["strategy"]["blueGreenCanary"]["hooks"] = [
            {
                "name": "approve",
                "type": "confirmPromotion",
                "url": f"{receiver.url}/approve",
                "timeout": "2s",
                "retries": 0,
                "interval": "0.5s",
                "secret": {"env": "GATE_KEY"},
            }
        ]
        load = LoadThread(f"http://127.0.0.1:{port}/", rate=100)
        load.start()
        try:
            run = local.start_run(local.write(document))
            held = held_calls(local, at_least=3)
            assert held.phase is Phase.PROGRESSING
            assert held.canary is not None and held.canary.version == "v2"
            assert held.weights[held.canary.color] == 30
            assert run.poll() is None  # still running: held, not finished
            receiver.answer = 200
            assert run.wait(timeout=60) == 0
        finally:
            report = load.stop()
    status = local.status()
    assert status is not None and status.phase is Phase.COMPLETED
    assert status.stable is not None and status.stable.version == "v2"
    assert all(r.signed for r in receiver.requests)
    assert report.failed == 0, report.failures_by_reason
    assert report.versions.get("v2", 0) > 0
