"""`plan_rollout` against the real Engine: the plan equals what a run with the same gate outcomes
performs, for every example and every strategy, from nothing, from a completed rollout and from
the middle of one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gate_receiver import receiving
from strategy_world import make_rollout

from serinus.adapters.gates.http import HttpGateCaller
from serinus.adapters.metrics.memory import MemoryProvider
from serinus.adapters.platforms.memory import MemoryPlatform, MemoryWorld
from serinus.adapters.routers.memory import MemoryRouter
from serinus.adapters.stores.memory import MemoryStateStore
from serinus.app import operations
from serinus.app.engine import Engine
from serinus.app.gates import GateRunner
from serinus.app.notifications import EnvSecretResolver
from serinus.app.planning import PlannedAction, flattened, plan_rollout
from serinus.core.documents import load_rollout
from serinus.core.intents import IntentKind
from serinus.core.spec import Rollout
from serinus.core.status import Color, Phase, RolloutStatus

EXAMPLES = sorted((Path(__file__).parents[3] / "examples").rglob("rollout.yaml"))
ISTIO = {"istio": {"virtualService": {"name": "web", "routes": ["primary"]}}}
TEMPLATES = [
    {
        "name": "errors",
        "metrics": [
            {
                "name": "error-ratio",
                "count": 2,
                "interval": "5s",
                "successCondition": "result[0] <= 0.05",
                "provider": {"prometheus": {"address": "http://prom:9090", "query": "q"}},
            }
        ],
    }
]


async def no_wait(_: float) -> None:
    return None


async def ok(_: Any) -> None:
    return None


class MirrorRouter(MemoryRouter):
    """The memory router plus mirroring, as Istio has it."""

    async def set_mirror(self, color: Color | None, percentage: float = 100.0) -> None:
        self.mirrored = (color, percentage)


class Run:
    """A rollout driven by the real Engine, its gates passed the way people and receivers do:
    promote at an untimed pause, approve a judgement, receivers answering 200, metrics healthy.
    The clock moves one second per reconcile, so timed waits elapse on their own."""

    def __init__(self, url: str) -> None:
        self.store = MemoryStateStore()
        self.now = 1000.0
        self.engine = Engine(
            self.store,
            MirrorRouter(),
            MemoryPlatform(MemoryWorld()),
            clock=lambda: self.now,
            providers={"prometheus": MemoryProvider([[0.01]])},
            gates=GateRunner(HttpGateCaller(sleep=no_wait), EnvSecretResolver({})),
        )
        self.url = url

    async def roll(self, rollout: Rollout, stop_at: Phase | None = None) -> list[PlannedAction]:
        """Submit `rollout` and run it until done (or until it reaches `stop_at`)."""
        await operations.submit(self.store, rollout)
        done: list[PlannedAction] = []
        for _ in range(2_000):
            result = await self.engine.reconcile(rollout.name)
            assert result.error is None, result.error
            assert result.decision is not None
            done += flattened(result.decision.actions)
            status = result.status
            if status.terminal or status.phase is stop_at:
                return done
            await self._pass_gate(rollout, status, result.decision.wake_at)
            self.now += 1.0
        raise AssertionError(f"{rollout.name} did not finish: {status.phase} {status.message}")

    async def _pass_gate(
        self, rollout: Rollout, status: RolloutStatus, wake_at: float | None
    ) -> None:
        if await self.store.pending_intents(rollout.name):
            return  # the last operation is not acted on yet
        if status.paused_by_user:
            await self._request(rollout, IntentKind.RESUME)
        elif status.phase is Phase.AWAITING_JUDGEMENT:
            step = rollout.spec.strategy.blue_green_canary or rollout.spec.strategy.canary
            assert step is not None
            judgement = step.steps[status.step_index].judgement
            assert judgement is not None
            inputs = {item.name: "OPS-1" for item in judgement.inputs if item.required}
            await self._request(rollout, IntentKind.JUDGE, approve=True, inputs=inputs)
        elif status.phase is Phase.PAUSED and wake_at is None:
            await self._request(rollout, IntentKind.PROMOTE)

    async def _request(self, rollout: Rollout, kind: IntentKind, **extra: Any) -> None:
        await operations.request(
            self.store, rollout.name, kind, actor="ana", source="test", **extra
        )

    async def state(self, name: str) -> tuple[Rollout, RolloutStatus | None]:
        spec = await self.store.get_spec(name)
        assert spec is not None
        return spec, await self.store.load(name)


def example(path: Path) -> Rollout:
    return load_rollout(path.read_bytes(), source=str(path))


def strategies() -> dict[str, Rollout]:
    """Every strategy, and every kind of step and hook, beside the examples."""
    url = "http://127.0.0.1:1/unused"  # replaced per test by the receiver's address
    webhook = {"name": "acceptance", "url": url, "timeout": "2s", "retries": 0}
    return {
        "rollingUpdate": make_rollout({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
        "blueGreen-auto": make_rollout(
            {"blueGreen": {"autoPromotion": True, "autoPromotionSeconds": 20}},
            trafficRouting={"haproxy": {"previewPort": 8090}},
        ),
        "canary-analysis-mirror-webhook": make_rollout(
            {
                "canary": {
                    "steps": [
                        {"setMirror": {"percentage": 50}},
                        {"setWeight": 20},
                        {"analysis": {"templates": ["errors"]}},
                        {"webhook": webhook},
                        {"setMirror": {"percentage": 0}},
                        {"setWeight": 60},
                        {"pause": {"duration": "15s"}},
                    ],
                    "hooks": [{**webhook, "name": "approve", "type": "confirmPromotion"}],
                    "scaleDownDelay": "10s",
                }
            },
            replicas=5,
            trafficRouting=ISTIO,
            analysisTemplates=TEMPLATES,
        ),
        "blueGreenCanary-background": make_rollout(
            {
                "blueGreenCanary": {
                    "steps": [{"setWeight": 30}, {"pause": {}}, {"setWeight": 100}],
                    "analysis": {"templates": ["errors"], "startingStep": 1},
                    "scaleDownDelay": 0,
                }
            },
            analysisTemplates=TEMPLATES,
        ),
    }


def at(rollout: Rollout, url: str) -> Rollout:
    """`rollout` with its webhooks sent to `url`."""
    data = rollout.model_dump(mode="json", by_alias=True, exclude_none=True)
    text = str(data)
    if "127.0.0.1:1/unused" not in text:
        return rollout
    strategy = data["spec"]["strategy"]["canary"]
    for item in [*strategy["steps"], *strategy["hooks"]]:
        hook = item.get("webhook", item)
        if "url" in hook:
            hook["url"] = f"{url}/{hook['name']}"
    return Rollout.model_validate(data)


CASES = {path.parent.name: example(path) for path in EXAMPLES} | strategies()


def test_every_example_is_covered() -> None:
    assert len(EXAMPLES) >= 5, EXAMPLES  # canary, blue-green, blue-green-canary, two Kubernetes


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_plan_is_what_the_engine_then_performs(case: str) -> None:
    with receiving() as receiver:
        v1 = at(CASES[case], receiver.url)
        v2 = v1.with_version("v2")
        run = Run(receiver.url)
        first_plan = await plan_rollout(v1, None, run.now)
        assert first_plan.stopped is None
        assert first_plan.actions() == await run.roll(v1)

        plan = await plan_rollout(v2, await run.state(v1.name), run.now)
        assert plan.stopped is None, plan.stopped
        assert plan.final is not None and plan.final.phase is Phase.COMPLETED
        performed = await run.roll(v2)
    assert plan.actions() == performed
    assert any(action.kind == "SetWeights" for action in performed)
    final = await run.store.load(v1.name)
    assert final is not None and final.stable is not None and final.stable.version == "v2"


async def test_a_plan_from_the_middle_of_a_rollout_is_the_rest_of_it() -> None:
    rollout = CASES["canary"]
    run = Run("http://127.0.0.1:1")
    await run.roll(rollout)
    v2 = rollout.with_version("v2")
    before_pause = await run.roll(v2, stop_at=Phase.PAUSED)  # the timed pause after 25%
    plan = await plan_rollout(v2, await run.state(rollout.name), run.now)
    rest = await run.roll(v2)
    assert plan.actions() == rest
    assert plan.start is not None and plan.start.step_index == 1
    assert before_pause[-1] == PlannedAction("SetWeights", {"weights": {"blue": 75, "green": 25}})
    assert PlannedAction("SetWeights", {"weights": {"blue": 50, "green": 50}}) in rest


async def test_the_plan_says_what_it_assumed_and_waited() -> None:
    rollout = CASES["blue-green-canary"]
    run = Run("http://127.0.0.1:1")
    await run.roll(rollout)
    plan = await plan_rollout(rollout.with_version("v2"), await run.state(rollout.name), run.now)
    assumed = [entry.assumed for entry in plan.entries if entry.assumed]
    assert assumed == ["assumed: judgement approved with ticket=planned"]
    waits = [entry.waited for entry in plan.entries if entry.waited is not None]
    assert waits == [30.0]  # scaleDownDelay before blue is torn down
    data = plan.to_data()
    assert data["final"]["stable"] == "v2" and data["from"]["stable"] == "v1"
    assert [e["actions"] for e in data["entries"]] == [
        [a.to_data() for a in e.actions] for e in plan.entries
    ]


async def test_a_rollout_a_user_paused_is_planned_as_resumed() -> None:
    rollout = CASES["blue-green-canary"]
    run = Run("http://127.0.0.1:1")
    await run.roll(rollout)
    v2 = rollout.with_version("v2")
    await run.roll(v2, stop_at=Phase.AWAITING_JUDGEMENT)
    await run._request(v2, IntentKind.PAUSE)
    await run.engine.reconcile(v2.name)
    recorded, status = await run.state(v2.name)
    assert status is not None and status.paused_by_user
    plan = await plan_rollout(v2, (recorded, status), run.now)
    assumed = [e.assumed for e in plan.entries if e.assumed]
    assert assumed == ["assumed: resumed", "assumed: judgement approved with ticket=planned"]
    assert plan.actions() == await run.roll(v2)
    assert plan.final is not None and plan.final.phase is Phase.COMPLETED


async def test_analyses_and_webhook_gates_are_assumed_where_they_stand() -> None:
    rollout = CASES["canary-analysis-mirror-webhook"]
    plan = await plan_rollout(rollout, None, 0.0)
    assert plan.final is not None
    plan = await plan_rollout(rollout.with_version("v2"), (rollout, plan.final), 100.0)
    assumed = [(e.step_index, e.assumed) for e in plan.entries if e.assumed]
    assert assumed == [
        (2, "assumed: analysis step-2 successful"),
        (3, "assumed: webhook gate step acceptance answers 2xx"),
        (7, "assumed: webhook gate confirmPromotion approve answers 2xx"),
    ]
