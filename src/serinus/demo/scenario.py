"""The demo: v1 under steady load, v2 rolled out with Blue-Green + Canary, faulty v3 rolled back.

Everything is real: replicas are processes of `serinus.demo.app`, traffic goes through HAProxy,
the load generator counts what its client saw. The engine runs in this process, exactly as
`serinus run` does; judgement and abort go through the same operations as the CLI.

With Debian's `prometheus` installed, the canary is judged by the rollout's own analysis step
(error ratio and p95 latency against stable, by thresholds and by the comparative judge, see
`serinus.demo.analysis`) over a private Prometheus that scrapes HAProxy and the replicas; v3's
errors make it fail and the engine aborts. Without it, the demo says so and falls back to a simple
error-ratio guard that watches HAProxy's exporter and asks for the abort.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serinus.app import operations
from serinus.app.driver import drive
from serinus.app.engine import Engine, Reconciled
from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.app.removal import stop_everything
from serinus.core.analysis.run import AnalysisPhase
from serinus.core.documents import validate_model
from serinus.core.intents import IntentKind
from serinus.core.ports import Platform, StateStore, TrafficRouter
from serinus.core.spec import Rollout
from serinus.core.status import Phase, RolloutStatus
from serinus.demo import prometheus
from serinus.demo.analysis import Timing, analysis_steps, analysis_templates
from serinus.demo.guard import ErrorRatioGuard
from serinus.demo.load import LoadGenerator, LoadReport
from serinus.demo.prometheus import PrometheusServer

NAME = "demo"
FAULTY = {"v3": 0.2}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class DemoOptions:
    quick: bool = False
    auto_approve: bool = False
    rate: float = 100.0
    port: int | None = None
    replicas: int = 3
    keep: bool = False
    dashboard_url: str | None = None  # where the judgement can be clicked, when served

    @property
    def hold(self) -> float:
        """How long the canary is watched at 10% before the judgement can be approved."""
        return 4.0 if self.quick else 15.0

    @property
    def scale_down_delay(self) -> float:
        return 2.0 if self.quick else 10.0


def demo_rollout(
    version: str,
    options: DemoOptions,
    port: int,
    stats_port: int,
    prometheus_address: str | None = None,
    faults: dict[str, float] = FAULTY,
) -> Rollout:
    """The demo's rollout; with a Prometheus address its steps run the analysis templates."""
    error_rates = ",".join(f"{v}={rate}" for v, rate in faults.items())
    command = [sys.executable, "-m", "serinus.demo.app", "--port", "{port}"]
    command += ["--version", "{version}", "--error-rates", error_rates, "--startup-delay", "0.3"]
    judgement: dict[str, Any] = {
        "instructions": "Compare the canary's error ratio with stable's.",
        "inputs": [{"name": "checked-by"}],
        "timeout": "10m",
    }
    steps: list[dict[str, Any]] = [{"setWeight": 10}, {"judgement": judgement}, {"setWeight": 100}]
    templates: list[dict[str, Any]] = []
    if prometheus_address is not None:
        judgement["instructions"] = "The analysis passed; look at `serinus get demo` and decide."
        steps = analysis_steps(judgement)
        templates = analysis_templates(prometheus_address, Timing.for_demo(options.quick))
    routing: dict[str, Any] = {"port": port, "statsPort": stats_port}
    if prometheus_address is not None:
        # The analysis reads the replicas' own counters, so HAProxy may retry a canary's 5xx on
        # another replica: users see none of them while the analysis still sees every one. (The
        # fallback guard reads HAProxy's per-server counters, which retried 5xx would not show.)
        routing["retryOn"] = ["conn-failure", "empty-response", "response-timeout", "500", "502"]
    spec = {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": NAME},
        "spec": {
            "version": version,
            "workload": {
                "process": {
                    "command": command,
                    "replicas": options.replicas,
                    "readiness": {"path": "/healthz"},
                    "warmup": {"path": "/", "requests": 10},
                }
            },
            "trafficRouting": {"haproxy": routing},
            "strategy": {
                "blueGreenCanary": {
                    "steps": steps,
                    "scaleDownDelay": options.scale_down_delay,
                    "abortScaleDownDelay": options.scale_down_delay,
                }
            },
            "progressDeadlineSeconds": 60,
            "analysisTemplates": templates,
        },
    }
    return validate_model(Rollout, spec, "demo rollout")


@dataclass
class PhaseTimer:
    """Durations of each phase a rollout went through, from the engine's own updates."""

    label: str
    entries: list[tuple[str, float]] = field(default_factory=list)
    ended: float | None = None

    def observe(self, status: RolloutStatus) -> None:
        phase = str(status.phase)
        if not self.entries or self.entries[-1][0] != phase:
            self.entries.append((phase, time.monotonic()))

    def durations(self) -> list[dict[str, Any]]:
        end = self.ended or time.monotonic()
        stamps = [t for _, t in self.entries[1:]] + [end]
        return [
            {"rollout": self.label, "phase": phase, "seconds": round(stop - start, 2)}
            for (phase, start), stop in zip(self.entries, stamps, strict=True)
        ]


class LoadThread:
    """The load generator on its own event loop, so the engine's loop is not slowed by it."""

    def __init__(self, url: str, rate: float) -> None:
        self.generator = LoadGenerator(url, rate)
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._report: LoadReport | None = None
        self._thread = threading.Thread(target=self._main, name="serinus-demo-load", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop = asyncio.Event()
        self._report = self._loop.run_until_complete(self.generator.run_until(self._stop))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> LoadReport:
        while self._stop is None:
            time.sleep(0.01)
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        assert self._report is not None, "the load generator did not stop"
        return self._report


Update = Callable[[str, Reconciled], None]


@dataclass
class Demo:
    options: DemoOptions
    store: StateStore
    state_dir: Path
    show: Update
    say: Callable[[str], None]
    port: int = 0
    stats_port: int = 0
    timers: list[PhaseTimer] = field(default_factory=list)
    router: TrafficRouter | None = None
    platform: Platform | None = None
    current: Rollout | None = None
    prometheus: PrometheusServer | None = None

    async def run(self) -> dict[str, Any]:
        self.port = self.options.port or free_port()
        self.stats_port = free_port()
        if prometheus.available():
            folder = Path(tempfile.mkdtemp(prefix="serinus-demo-prometheus-"))
            self.prometheus = PrometheusServer(folder, f"127.0.0.1:{self.stats_port}")
            self.prometheus.start()
            self.say(f"analysis by Prometheus at {self.prometheus.address} (scrapes every 1s)")
        else:
            self.say(
                "prometheus is not installed (Debian: apt-get install prometheus): "
                "falling back to a simple error-ratio guard instead of the analysis"
            )
        first = self._rollout("v1")
        context = AdapterContext(rollout=first, state_dir=self.state_dir / "rollouts" / NAME)
        self.router, self.platform = build_router(context), build_platform(context)
        engine = Engine(self.store, self.router, self.platform)
        await self.router.prepare()
        guard = (
            None
            if self.prometheus is not None
            else ErrorRatioGuard(f"http://127.0.0.1:{self.stats_port}/metrics")
        )
        url = f"http://127.0.0.1:{self.port}/"
        started = time.monotonic()
        await self._roll_out(engine, "v1", "v1: first deployment")
        if self.prometheus is not None:
            await self.prometheus.wait_until_scraped()
            await self.prometheus.wait_until_scraped('up{job="replicas"} == 1')
        self.say(f"v1 is live at {url}; starting steady load at {self.options.rate:g} req/s")
        load = LoadThread(url, self.options.rate)
        load.start()
        try:
            await asyncio.sleep(1.0)
            v2 = await self._roll_out(engine, "v2", "v2: Blue-Green + Canary", guard)
            v3 = await self._roll_out(engine, "v3", "v3: faulty (20% errors)", guard)
            await asyncio.sleep(1.0)
        finally:
            report = load.stop()
        return {
            "url": url,
            "durationSeconds": round(time.monotonic() - started, 1),
            "requests": {
                "sent": report.sent,
                "failed": report.failed,
                "failuresByReason": report.failures_by_reason,
                "achievedRate": round(report.achieved_rate, 1),
            },
            "outcomes": {"v2": str(v2.phase), "v3": str(v3.phase)},
            "stable": v3.stable.version if v3.stable else None,
            "phases": [entry for timer in self.timers for entry in timer.durations()],
            "shares": [bucket.to_dict() for bucket in report.timeline],
            "analysisBy": "prometheus" if self.prometheus is not None else "guard",
            "analysis": {"v2": analysis_summary(v2), "v3": analysis_summary(v3)},
        }

    def _rollout(self, version: str) -> Rollout:
        address = self.prometheus.address if self.prometheus is not None else None
        return demo_rollout(version, self.options, self.port, self.stats_port, address)

    async def _roll_out(
        self, engine: Engine, version: str, label: str, guard: ErrorRatioGuard | None = None
    ) -> RolloutStatus:
        rollout = self._rollout(version)
        self.current = rollout
        await operations.submit(self.store, rollout)
        timer = PhaseTimer(label)
        self.timers.append(timer)
        judge = _Judge(self, guard) if version != "v1" else None

        def update(result: Reconciled) -> None:
            timer.observe(result.status)
            if self.prometheus is not None and result.observed.colors:
                self.prometheus.write_targets(result.observed.colors)
            self.show(label, result)
            if judge is not None:
                judge.watch(result.status)

        stop = asyncio.Event()
        watcher = asyncio.create_task(judge.run(stop)) if judge else None
        try:
            result = await drive(engine, NAME, update)
        finally:
            stop.set()
            if watcher is not None:
                await watcher
        timer.ended = time.monotonic()
        return result.status

    async def close(self) -> None:
        if self.prometheus is not None:
            self.prometheus.stop()
            shutil.rmtree(self.prometheus.folder, ignore_errors=True)
        if self.options.keep or self.platform is None or self.router is None:
            return
        await stop_everything(self.platform, self.router)
        await self.platform.close()
        await self.router.close()


def analysis_summary(status: RolloutStatus) -> dict[str, Any] | None:
    """The analysis run's verdict and each metric's outcome (None when no analysis ran)."""
    run = status.analysis
    if run is None:
        return None
    return {
        "phase": str(run.phase),
        "metrics": {result.name: str(result.phase) for result in run.metrics},
        "message": run.message,
    }


class _Judge:
    """The person at the canary's judgement gate.

    With the analysis (Prometheus), the analysis step has already decided: a failure aborted the
    rollout; a pass leads here, and --auto-approve approves at once. An inconclusive analysis
    also waits here, and --auto-approve rejects it: missing evidence is not approval.
    Without Prometheus, the error-ratio guard decides: it aborts when it trips and approves (with
    --auto-approve) once it has seen enough healthy canary traffic.
    """

    def __init__(self, demo: Demo, guard: ErrorRatioGuard | None) -> None:
        self.demo = demo
        self.guard = guard
        self.status: RolloutStatus | None = None
        self.watching_since: float | None = None
        self.announced = False

    def watch(self, status: RolloutStatus) -> None:
        self.status = status

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._tick()
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.25)
            except TimeoutError:
                continue

    async def _tick(self) -> None:
        status = self.status
        if status is None or status.canary is None or status.phase is not Phase.AWAITING_JUDGEMENT:
            return
        if self.watching_since is None:
            if self.guard is not None:
                await self.guard.reset(status.canary.color)
            self.watching_since = time.monotonic()
            if not self.demo.options.auto_approve and not self.announced:
                self.announced = True
                where = self.demo.options.dashboard_url
                self.demo.say(
                    "waiting for your judgement"
                    + (f": click Approve on {where}rollouts/{NAME}, or run" if where else ": run")
                    + f" serinus --state-dir {self.demo.state_dir} judge {NAME} --approve"
                    " --input checked-by=$USER   (or --reject)"
                )
            if self.guard is not None:
                return
        if self.guard is None:
            await self._after_analysis(status)
        else:
            await self._guarded(status)

    async def _decide(
        self, approve: bool, comment: str, actor: str = "demo --auto-approve"
    ) -> None:
        await operations.request(
            self.demo.store,
            NAME,
            IntentKind.JUDGE,
            actor=actor,
            source="demo",
            approve=approve,
            inputs={"checked-by": "analysis" if self.guard is None else "error-ratio guard"},
            comment=comment,
        )
        self.watching_since = None
        self.status = None

    async def _after_analysis(self, status: RolloutStatus) -> None:
        if not self.demo.options.auto_approve:
            return
        run = status.analysis
        if run is not None and run.phase is AnalysisPhase.SUCCESSFUL:
            await self._decide(True, f"auto-approved: analysis {run.phase}: {run.message}")
        else:
            reason = run.message if run is not None else "no analysis ran"
            self.demo.say(f"analysis inconclusive ({reason}); --auto-approve rejects it")
            await self._decide(False, f"analysis inconclusive: {reason}")

    async def _guarded(self, status: RolloutStatus) -> None:
        assert self.guard is not None and status.canary is not None
        assert self.watching_since is not None
        counts, healthy = await self.guard.check()
        if healthy is False:
            comment = (
                f"{status.canary.version} 5xx ratio {counts.ratio:.1%} over {counts.requests} "
                f"requests exceeds {self.guard.threshold:.0%}"
            )
            self.demo.say(f"guard: {comment}; aborting")
            await operations.request(
                self.demo.store,
                NAME,
                IntentKind.ABORT,
                actor="error-ratio guard",
                source="demo",
                comment=comment,
            )
            self.watching_since = None
            self.status = None
        elif (
            healthy
            and self.demo.options.auto_approve
            and time.monotonic() - self.watching_since >= self.demo.options.hold
        ):
            await self._decide(
                True, f"auto-approved: 5xx ratio {counts.ratio:.1%} over {counts.requests} requests"
            )
