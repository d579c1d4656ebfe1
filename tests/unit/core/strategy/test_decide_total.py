"""`decide()` never raises on a spec that lint accepts (DESIGN.md, "Safety invariants").

Hypothesis builds random valid rollouts (every strategy, every step kind, analysis templates
with args and engine variables, background analysis) and drives `decide()` through random
ticks: the world applies its actions with replicas becoming ready late or crashing, the router
reading back stale weights, analysis runs ending in any phase, operations of every kind, spec
version changes (forward and back), and time jumps. The status goes through storage between
ticks, as it does in the store. Only "never raises" is asserted here; the traffic invariants
are the model-based test's.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from serinus.core.actions import Action, EnsureVersion, SetWeights, TearDown
from serinus.core.analysis.run import AnalysisPhase, AnalysisRunState
from serinus.core.intents import Intent, IntentKind
from serinus.core.spec import Rollout
from serinus.core.status import Color, ColorState, Endpoint, Observed, RolloutStatus
from serinus.core.strategy.machine import decide

COLORS: tuple[Color, Color] = ("blue", "green")
VERSIONS = ("v1", "v2", "v3")

WEB = {"web": {"url": "http://metrics/{{rollout.name}}/{{canary.version}}", "jsonPath": "$.r"}}


@st.composite
def metrics(draw: st.DrawFn, name: str) -> dict[str, Any]:
    metric: dict[str, Any] = {"name": name, "provider": WEB}
    condition = draw(st.sampled_from(["success", "failure", "both"]))
    if condition in ("success", "both"):
        metric["successCondition"] = "result[0] < {{args.limit}}"
    if condition in ("failure", "both"):
        metric["failureCondition"] = "result[0] > 0.5"
    count = draw(st.one_of(st.none(), st.integers(1, 4)))
    if count is not None:
        metric["count"] = count
        metric["failureLimit"] = draw(st.integers(0, count))
        metric["inconclusiveLimit"] = draw(st.integers(0, count))
    if count is None or count > 1 or draw(st.booleans()):
        metric["interval"] = draw(st.sampled_from(["1s", "30s", 5, "1m"]))
    if draw(st.booleans()):
        metric["initialDelay"] = draw(st.sampled_from([0, "2s", "1m"]))
    metric["consecutiveErrorLimit"] = draw(st.integers(0, 3))
    metric["dryRun"] = draw(st.booleans())
    return metric


@st.composite
def templates(draw: st.DrawFn) -> list[dict[str, Any]]:
    found = []
    for index in range(draw(st.integers(1, 3))):
        names = draw(st.lists(st.sampled_from(["errors", "latency", "smoke"]), min_size=1,
                              max_size=2, unique=True))  # fmt: skip
        found.append(
            {
                "name": f"t{index}",
                "args": [{"name": "limit", "value": "0.05"}],
                # Names repeat across templates: a step naming two of them is refused by
                # validation (the merged run would be invalid), and such specs are skipped.
                "metrics": [draw(metrics(name)) for name in names],
            }
        )
    return found


@st.composite
def steps(draw: st.DrawFn, template_names: list[str], router: str) -> list[dict[str, Any]]:
    kinds = ["setWeight", "pause", "judgement", "analysis", "setHeaderRoute"]
    if router == "istio":
        kinds.append("setMirror")
    found: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(kinds))
        if kind == "setWeight":
            found.append({"setWeight": draw(st.integers(0, 100))})
        elif kind == "pause":
            found.append(
                {"pause": draw(st.sampled_from([{}, {"duration": 0}, {"duration": "30s"}]))}
            )
        elif kind == "judgement":
            judgement: dict[str, Any] = {"onTimeout": draw(st.sampled_from(["abort", "continue"]))}
            if draw(st.booleans()):
                judgement["timeout"] = draw(st.sampled_from([1, "1m", "1h"]))
            if draw(st.booleans()):
                judgement["inputs"] = [{"name": "ticket", "required": True}]
            found.append({"judgement": judgement})
        elif kind == "analysis":
            chosen = draw(
                st.lists(st.sampled_from(template_names), min_size=1, max_size=2, unique=True)
            )
            found.append({"analysis": {"templates": chosen, "args": {"limit": "0.1"}}})
        elif kind == "setHeaderRoute":
            match = draw(
                st.sampled_from([[], [{"headerName": "X-C", "headerValue": {"exact": "1"}}]])
            )
            found.append({"setHeaderRoute": {"name": "testers", "match": match}})
        else:
            found.append({"setMirror": {"percentage": draw(st.integers(0, 100))}})
    return found


@st.composite
def rollouts(draw: st.DrawFn) -> Rollout:
    router = draw(st.sampled_from(["haproxy", "istio"]))
    analysis_templates = draw(templates())
    names = [template["name"] for template in analysis_templates]
    kind = draw(st.sampled_from(["blueGreenCanary", "canary", "blueGreen", "rollingUpdate"]))
    strategy: dict[str, Any]
    delays = {
        "scaleDownDelay": draw(st.sampled_from([0, 5, "30s"])),
        "abortScaleDownDelay": draw(st.sampled_from([0, 5, "30s"])),
    }
    if kind in ("blueGreenCanary", "canary"):
        strategy = {"steps": draw(steps(names, router)), **delays}
        if draw(st.booleans()):
            strategy["analysis"] = {
                "templates": [draw(st.sampled_from(names))],
                "startingStep": draw(st.integers(0, max(0, len(strategy["steps"]) - 1))),
            }
    elif kind == "blueGreen":
        strategy = {
            "autoPromotion": draw(st.booleans()),
            "autoPromotionSeconds": draw(st.sampled_from([0, 10])),
            **delays,
        }
    else:
        surge = draw(st.integers(0, 3))
        strategy = {"maxSurge": surge, "maxUnavailable": draw(st.integers(0 if surge else 1, 3))}
    if kind != "rollingUpdate" and draw(st.booleans()):
        strategy["rollbackWindow"] = {
            "duration": draw(st.sampled_from([1, 30, "1h"])),
            "replicas": draw(st.sampled_from([1, "50%", "100%"])),
        }
    routing = (
        {"haproxy": {}} if router == "haproxy" else {"istio": {"virtualService": {"name": "web"}}}
    )
    document = {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {
            "version": "v1",
            "workload": {
                "process": {"command": ["app", "{port}"], "replicas": draw(st.integers(1, 5))}
            },
            "trafficRouting": routing,
            "strategy": {kind: strategy},
            "progressDeadlineSeconds": draw(st.sampled_from([5, 600, 600])),
            "analysisTemplates": analysis_templates,
        },
    }
    try:
        return Rollout.model_validate(document)
    except ValidationError as exc:
        # Only the cross-template rule may refuse what this generator builds.
        assert "must be unique across a step's templates" in str(exc), exc
        assume(False)
        raise


class World:
    """Applies actions like the adapters would, but replicas come up (or crash) at random."""

    def __init__(self) -> None:
        self.colors: dict[Color, ColorState] = {}
        self.weights: dict[Color, int] | None = None

    def apply(self, action: Action, ready_now: bool) -> None:
        if isinstance(action, EnsureVersion):
            self.colors[action.color] = ColorState(
                version=action.version,
                desired=action.replicas,
                ready=action.replicas if ready_now else 0,
            )
        elif isinstance(action, TearDown):
            self.colors.pop(action.color, None)
        elif isinstance(action, SetWeights):
            self.weights = dict(action.weights)

    def observed(self, data: st.DataObject, status: RolloutStatus) -> Observed:
        colors: dict[Color, ColorState] = {}
        for color, state in self.colors.items():
            late_or_crashed = [state.ready, 0, max(0, state.ready - 1)]
            ready = data.draw(st.sampled_from([state.desired] * 3 + late_or_crashed))
            ready = min(ready, state.desired)
            endpoints = [
                Endpoint(host="127.0.0.1", port=9000 + i, ready=i < ready, replica=i)
                for i in range(state.desired)
            ]
            failure = "exited with 1" if data.draw(st.integers(0, 30)) == 0 else None
            colors[color] = state.model_copy(
                update={"ready": ready, "endpoints": endpoints, "failure": failure}
            )
        self.colors = colors
        weights = data.draw(
            st.sampled_from([self.weights, None, {"blue": 100}, {"blue": 50, "green": 50}])
        )
        unreachable = data.draw(st.integers(0, 9)) == 0  # the router cannot be read
        return Observed(
            colors=colors,
            weights=None if unreachable else weights,
            router_error="injected: cannot talk to the router" if unreachable else None,
            analysis=analysis_outcome(data, status.analysis),
            background_analysis=analysis_outcome(data, status.background_analysis),
        )


def analysis_outcome(data: st.DataObject, run: AnalysisRunState | None) -> AnalysisRunState | None:
    if run is None or data.draw(st.booleans()):
        return run
    return run.model_copy(update={"phase": data.draw(st.sampled_from(list(AnalysisPhase)))})


def intents(data: st.DataObject, tick: int) -> list[Intent]:
    if data.draw(st.integers(0, 3)) != 0:
        return []
    kinds = data.draw(st.lists(st.sampled_from(list(IntentKind)), min_size=1, max_size=2))
    return [
        Intent(
            id=tick * 10 + index,
            kind=kind,
            actor="ana",
            approve=data.draw(st.booleans()) if kind is IntentKind.JUDGE else None,
            inputs={"ticket": "OPS-1"} if data.draw(st.booleans()) else {},
        )
        for index, kind in enumerate(kinds)
    ]


@settings(
    max_examples=int(os.environ.get("SERINUS_DECIDE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rollout=rollouts(), data=st.data())
def test_decide_never_raises_on_a_valid_spec(rollout: Rollout, data: st.DataObject) -> None:
    world = World()
    status: RolloutStatus | None = None
    now = 1000.0
    for tick in range(data.draw(st.integers(5, 30))):
        if tick == 3 or data.draw(st.integers(0, 14)) == 0:  # a new version, or a revert
            rollout = rollout.with_version(data.draw(st.sampled_from(VERSIONS)))
        now += data.draw(st.sampled_from([0.0, 1.0, 1.0, 10.0, 40.0, 3600.0]))
        observed = world.observed(data, status or RolloutStatus())
        decision = decide(rollout, status, observed, intents(data, tick), now)
        ready_now = data.draw(st.booleans())
        for action in decision.actions:
            world.apply(action, ready_now)
        status = RolloutStatus.from_storage(decision.status.to_storage())
