"""serinus's own Prometheus metrics, read back through the text exposition format."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from serinus.app import metrics as module
from serinus.app.metrics import SerinusMetrics
from serinus.app.notifications import DeliveryFailure
from serinus.core.events import Event, EventType
from serinus.core.status import Phase, Revision, RolloutStatus


def samples(metrics: SerinusMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(metrics: SerinusMetrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, tuple(sorted(labels.items()))))


def status(phase: Phase, since: float = 100.0, canary: str | None = "v2") -> RolloutStatus:
    return RolloutStatus(
        phase=phase,
        stable=Revision(version="v1", color="blue"),
        canary=Revision(version=canary, color="green") if canary else None,
        step_index=2,
        phase_since=since,
        weights={"blue": 75, "green": 25},
        replicas={"blue": 3, "green": 3},
        ready={"blue": 3, "green": 2},
    )


def test_status_gauges_describe_the_rollout_now() -> None:
    metrics = SerinusMetrics(clock=lambda: 130.0)
    metrics.observe_status("web", status(Phase.AWAITING_JUDGEMENT))
    assert value(metrics, "serinus_rollout_info", rollout="web", stable="v1", canary="v2") == 1
    assert value(metrics, "serinus_rollout_phase", rollout="web", phase="AwaitingJudgement") == 1
    assert value(metrics, "serinus_rollout_phase", rollout="web", phase="Progressing") == 0
    assert value(metrics, "serinus_rollout_weight_percent", rollout="web", color="green") == 25
    assert value(metrics, "serinus_rollout_step", rollout="web") == 2
    assert value(metrics, "serinus_rollout_replicas_ready", rollout="web", color="green") == 2
    assert value(metrics, "serinus_rollout_replicas_desired", rollout="web", color="green") == 3
    assert value(metrics, "serinus_judgement_waiting_seconds", rollout="web") == 30


def test_a_new_version_replaces_the_info_series_and_forget_drops_everything() -> None:
    metrics = SerinusMetrics()
    metrics.observe_status("web", status(Phase.PROGRESSING))
    metrics.observe_status("web", status(Phase.COMPLETED, canary=None))
    assert value(metrics, "serinus_rollout_info", rollout="web", stable="v1", canary="v2") is None
    assert value(metrics, "serinus_rollout_info", rollout="web", stable="v1", canary="") == 1
    assert value(metrics, "serinus_judgement_waiting_seconds", rollout="web") == 0
    metrics.observe_status("api", None)
    assert value(metrics, "serinus_rollout_phase", rollout="api", phase="Pending") == 1
    metrics.forget("web")
    assert not [key for key in samples(metrics) if ("rollout", "web") in key[1]]
    assert value(metrics, "serinus_rollout_phase", rollout="api", phase="Pending") == 1


def test_events_count_and_judgements_are_timed_from_gate_to_decision() -> None:
    metrics = SerinusMetrics()
    metrics.observe_events(
        "web",
        [
            Event(type=EventType.WEIGHTS_CHANGED, message="", at=10.0),
            Event(type=EventType.AWAITING_JUDGEMENT, message="", at=20.0),
        ],
    )
    metrics.observe_events(
        "web", [Event(type=EventType.JUDGED, message="", at=95.0, data={"approved": True})]
    )
    assert value(metrics, "serinus_events_total", rollout="web", type="WeightsChanged") == 1
    labels = {"rollout": "web", "approved": "true"}
    assert value(metrics, "serinus_judgement_wait_seconds_count", **labels) == 1
    assert value(metrics, "serinus_judgement_wait_seconds_sum", **labels) == 75
    assert value(metrics, "serinus_judgement_wait_seconds_bucket", **labels, le="60.0") == 0
    assert value(metrics, "serinus_judgement_wait_seconds_bucket", **labels, le="300.0") == 1


def test_analysis_outcomes_notification_failures_and_reconciles_count() -> None:
    metrics = SerinusMetrics()
    metrics.record_analysis_outcome("web", "error-ratio", "Failed")
    metrics.record_analysis_outcome("web", "error-ratio", "Failed")
    failure = DeliveryFailure(
        rollout="web",
        namespace="default",
        channel="ops",
        kind="slack",
        event_type=EventType.ABORTED,
        event_at=1.0,
        error="down",
        attempts=5,
        at=2.0,
    )
    metrics.record_notification_failure(failure)
    with metrics.timed_reconcile("web"):
        pass
    with pytest.raises(RuntimeError), metrics.timed_reconcile("web"):
        raise RuntimeError("router down")
    assert (
        value(
            metrics,
            "serinus_analysis_outcomes_total",
            rollout="web",
            metric="error-ratio",
            outcome="Failed",
        )
        == 2
    )
    assert (
        value(
            metrics,
            "serinus_notification_failures_total",
            rollout="web",
            channel="ops",
            kind="slack",
        )
        == 1
    )
    assert value(metrics, "serinus_reconcile_duration_seconds_count", rollout="web") == 2
    assert value(metrics, "serinus_reconcile_errors_total", rollout="web") == 1


def test_the_registry_is_dedicated_not_the_global_one() -> None:
    from prometheus_client import REGISTRY

    assert module.DEFAULT.registry is not REGISTRY
    assert "serinus_rollout_phase" not in {m.name for m in REGISTRY.collect()}


DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "serinus-dashboard.json"
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$rollout": ".*"}


def dashboard_queries() -> list[str]:
    document = json.loads(DASHBOARD.read_text())
    return [_fill(t["expr"]) for panel in document["panels"] for t in panel["targets"]]


def _fill(query: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        query = query.replace(name, value)
    return query


def test_the_grafana_dashboard_only_queries_metrics_serinus_exports() -> None:
    metrics = SerinusMetrics()
    metrics.observe_status("web", status(Phase.PROGRESSING))
    exported = {name for name, _ in samples(metrics)}
    exported |= {f"serinus_{n}" for n in ("analysis_outcomes_total", "events_total")}
    exported |= {
        f"serinus_{base}_{suffix}"
        for base in ("judgement_wait_seconds", "reconcile_duration_seconds")
        for suffix in ("bucket", "count", "sum")
    }
    exported |= {"serinus_notification_failures_total", "serinus_reconcile_errors_total"}
    used = {name for query in dashboard_queries() for name in re.findall(r"serinus_\w+", query)}
    assert used and used <= exported, used - exported
    assert {"serinus_rollout_weight_percent", "serinus_judgement_wait_seconds_bucket"} <= used


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool (Debian prometheus)")
def test_the_grafana_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"serinus:dashboard_query_{index}", "expr": query}
                    for index, query in enumerate(dashboard_queries())
                ],
            }
        ]
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    checked = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
