"""`serinus get`'s analysis table: per metric the value, the condition and the outcome, and per
comparison the classification, p-value and interval."""

from __future__ import annotations

from rich.console import Console

from serinus.core.analysis.run import (
    AnalysisPhase,
    AnalysisRunState,
    Measurement,
    MeasurementPhase,
    MetricResult,
)
from serinus.core.status import RolloutStatus
from serinus.demo.scenario import DemoOptions, demo_rollout
from serinus.entrypoints.cli.view import analysis_table, render

ROLLOUT = demo_rollout("v3", DemoOptions(quick=True), 8080, 8081, "http://127.0.0.1:9090")


def shown(status: RolloutStatus) -> str:
    console = Console(width=250, record=True, color_system=None)
    console.print(render(ROLLOUT, status))
    return console.export_text()


def failed_run() -> AnalysisRunState:
    return AnalysisRunState(
        name="step-1",
        phase=AnalysisPhase.FAILED,
        message="Failed: error-ratio: 1 failed measurements > failureLimit 0",
        started_at=100.0,
        finished_at=105.0,
        args={"maxErrorRatioIncrease": "0.03", "maxP95IncreaseSeconds": "0.05"},
        metrics=[
            MetricResult(
                name="error-ratio",
                phase=AnalysisPhase.FAILED,
                count=1,
                failed=1,
                message="1 failed measurements > failureLimit 0",
                measurements=[Measurement(phase=MeasurementPhase.FAILED, at=105.0, value=[0.1875])],
            ),
            MetricResult(
                name="error-ratio-judged",
                phase=AnalysisPhase.FAILED,
                count=1,
                failed=1,
                measurements=[
                    Measurement(
                        phase=MeasurementPhase.FAILED,
                        at=105.0,
                        details={
                            "classification": "High",
                            "pValue": 0.000123,
                            "ciLow": 0.12,
                            "ciHigh": 0.25,
                        },
                    )
                ],
            ),
            MetricResult(name="p95-latency"),
            MetricResult(
                name="p95-latency-judged",
                phase=AnalysisPhase.RUNNING,
                error=1,
                consecutive_errors=1,
                measurements=[
                    Measurement(phase=MeasurementPhase.ERROR, at=105.0, message="connect refused")
                ],
            ),
        ],
    )


def test_the_table_shows_values_filled_in_conditions_outcomes_and_the_judges_figures() -> None:
    text = shown(RolloutStatus(analysis=failed_run()))

    def row(name: str) -> str:
        return next(line for line in text.splitlines() if f"│ {name} " in line)

    error_ratio = row("error-ratio")
    assert "[0.1875]" in error_ratio
    assert "success: result[0] <= 0.03" in error_ratio  # the argument as it was judged
    assert "Failed 0/1/0/0" in error_ratio
    judged = row("error-ratio-judged")
    assert "High" in judged and "p=0.000123" in judged and "[0.12, 0.25]" in judged
    assert "judge: increase, confidence 0.98" in judged
    latency = row("p95-latency")
    assert "Pending" in latency and "result[0] <= 0.05" in latency
    assert "(error)" in text and "connect refused" in text
    assert "analysis step-1: Failed" in text
    assert "1 failed measurements > failureLimit 0" in text


def test_no_table_without_an_analysis_run_and_a_table_without_the_spec() -> None:
    assert "analysis step-" not in shown(RolloutStatus())
    console = Console(width=200, record=True, color_system=None)
    console.print(analysis_table(RolloutStatus(analysis=failed_run())))
    text = console.export_text()
    assert "error-ratio" in text and "[0.1875]" in text  # conditions unknown: shown as "-"
