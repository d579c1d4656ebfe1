"""A sequential metric in the CLI: `serinus run`'s live view and `serinus analyze run` say how it
is judged (alpha, minSamples) and where its last look stands (evidence of 1/alpha, canary
requests of minSamples), not "-"."""

from __future__ import annotations

import time

from rich.console import Console
from sequential_world import METRIC, TEMPLATE, analysing, looks, rollout_document

from serinus.core.analysis.run import AnalysisRunState
from serinus.core.analysis.spec import AnalysisTemplate, Metric
from serinus.core.documents import validate_model
from serinus.core.spec import Rollout
from serinus.entrypoints.cli import analyze_run
from serinus.entrypoints.cli.output import console
from serinus.entrypoints.cli.view import render

ROLLOUT = validate_model(Rollout, rollout_document(), "test")
RUNNING, FAILED = looks(time.time() - 30)
CONDITION = "sequential: alpha 0.05, minSamples 200"


def shown_in_the_live_view(run: AnalysisRunState) -> str:
    out = Console(width=250, record=True, color_system=None)
    out.print(render(ROLLOUT, analysing(run, 0.0)))
    return out.export_text()


def row(text: str) -> str:
    """The metric's row of a table (the one that names how it is judged)."""
    return next(line for line in text.splitlines() if METRIC in line and "alpha 0" in line)


def test_the_live_view_shows_alpha_min_samples_and_the_last_looks_evidence() -> None:
    running = row(shown_in_the_live_view(RUNNING))
    assert CONDITION in running
    assert "evidence 2.28 of 20, 50/200 canary requests" in running
    failed = row(shown_in_the_live_view(FAILED))
    assert CONDITION in failed
    assert "evidence 44.3 reached 20, 200/200 canary requests" in failed


def test_the_slow_request_form_says_so() -> None:
    sequential = TEMPLATE["metrics"][0]["sequential"]
    buckets = {"requests": "r", "bucket": "b"}
    slow = Metric.model_validate(
        {
            **TEMPLATE["metrics"][0],
            "sequential": {**sequential, "canary": buckets, "baseline": buckets, "alpha": 0.01},
        }
    )
    assert analyze_run._condition(slow) == (
        "sequential on slow requests: alpha 0.01, minSamples 200"
    )


def test_analyze_run_prints_each_look_once_and_the_table_with_alpha_and_evidence() -> None:
    template = validate_model(
        AnalysisTemplate,
        {"apiVersion": "serinus.io/v1alpha1", "kind": "AnalysisTemplate",
         "metadata": {"name": "errors"}, "spec": {"metrics": TEMPLATE["metrics"]}},
        "test",
    )  # fmt: skip
    with console.capture() as captured:
        analyze_run._LivePrinter()(FAILED)
        analyze_run.render(template, FAILED)
    text = captured.get()
    lines = text.splitlines()
    # the live lines: one per look, its message said once (no value repeated before it)
    looked = [line for line in lines if line.lstrip().startswith("+")]
    assert len(looked) == len(FAILED.result(METRIC).measurements)
    last = looked[-1]
    assert last.count("evidence 44.3") == 1, last
    assert "Failed  evidence 44.3 reached 20 (1/alpha): canary errors 2.50% of 200" in last
    table = row(text)
    assert CONDITION in table
    assert "evidence 44.3 reached 20, 200/200 canary requests" in table
    assert "outcome: Failed" in text
