"""`serinus analyze run`: a template run live, each measurement printed, the outcome as exit."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner, Result

from serinus.entrypoints.cli import analyze_run  # noqa: F401 - registers `run` on analyze_app
from serinus.entrypoints.cli.analyze import analyze_app

cli = typer.Typer()
cli.add_typer(analyze_app, name="analyze")
PY = sys.executable


def write_template(tmp_path: Path, metrics: list[dict[str, Any]], args: Any = None) -> Path:
    path = tmp_path / "template.yaml"
    document = {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "checks"},
        "spec": {"args": args or [], "metrics": metrics},
    }
    path.write_text(yaml.safe_dump(document))
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["analyze", "run", *args])


def exit_with(code: str) -> dict[str, Any]:
    return {
        "name": "exit-code",
        "interval": "0.05s",
        "count": 2,
        "successCondition": "result[0] == 1",
        "provider": {"command": {"command": [PY, "-c", f"raise SystemExit({code})"]}},
    }


def printing(text: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "printed",
        "successCondition": "all(result >= 1)",
        "provider": {"command": {"command": [PY, "-c", f"print({text!r})"], "output": "stdout"}},
        **fields,
    }


def test_successful_run_prints_each_measurement_and_exits_0(tmp_path: Path) -> None:
    path = write_template(
        tmp_path, [exit_with("{{args.code}}"), printing("1 2 3")], args=[{"name": "code"}]
    )
    result = invoke(str(path), "--arg", "code=0")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("+")]
    assert len(lines) == 3  # two exit-code measurements and one printed one
    assert all("Successful" in line for line in lines)
    assert "[1, 2, 3]" in result.output
    assert "outcome: Successful" in result.output


def test_failed_run_exits_4_and_json_has_the_state(tmp_path: Path) -> None:
    path = write_template(tmp_path, [exit_with("3")])
    result = invoke(str(path), "-o", "json")
    assert result.exit_code == 4
    state = json.loads(result.output)
    assert state["phase"] == "Failed" and state["name"] == "checks"
    measurement = state["metrics"][0]["measurements"][0]
    assert measurement["phase"] == "Failed" and measurement["value"] == [0.0]
    assert "successCondition not met" in measurement["message"]


def test_no_data_is_inconclusive_and_exits_3(tmp_path: Path) -> None:
    path = write_template(tmp_path, [printing("")])
    result = invoke(str(path))
    assert result.exit_code == 3
    assert "no data: the result is empty" in result.output
    assert "outcome: Inconclusive" in result.output


def test_a_provider_that_is_down_errors_out_and_exits_5(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = {
        "name": "error-rate",
        "interval": "0.05s",
        "count": 3,
        "consecutiveErrorLimit": 1,
        "successCondition": "result[0] < 0.01",
        "provider": {"prometheus": {"address": f"http://127.0.0.1:{port}", "query": "up"}},
    }
    result = invoke(str(write_template(tmp_path, [down])), "-o", "json")
    assert result.exit_code == 5
    state = json.loads(result.output)
    assert state["phase"] == "Error"
    measurements = state["metrics"][0]["measurements"]
    assert [m["phase"] for m in measurements] == ["Error", "Error"]
    assert "ConnectError" in measurements[0]["message"]


def test_dry_run_failure_does_not_fail_the_run(tmp_path: Path) -> None:
    path = write_template(tmp_path, [exit_with("0"), printing("0", dryRun=True)])
    result = invoke(str(path))
    assert result.exit_code == 0, result.output
    assert "(dryRun)" in result.output


def test_metric_without_count_ends_at_max_duration(tmp_path: Path) -> None:
    endless = {**exit_with("0"), "interval": "0.1s"}
    del endless["count"]
    path = write_template(tmp_path, [endless])
    result = invoke(str(path), "--max-duration", "0.3s", "-o", "json")
    assert result.exit_code == 0, result.output
    metric = json.loads(result.output)["metrics"][0]
    assert metric["phase"] == "Successful" and metric["count"] >= 1
    assert metric["message"].startswith("ran for the maximum duration after")


@pytest.mark.parametrize(
    ("metrics", "extra", "message"),
    [
        (
            [{**exit_with("0"), "successCondition": "__import__('os')"}],
            [],
            "spec.metrics[0]: successCondition: this call",
        ),
        ([exit_with("{{args.code}}")], [], "names an undeclared argument"),
        ([exit_with("0")], ["--arg", "novalue"], "--arg 'novalue': expected NAME=VALUE"),
        ([exit_with("0")], ["--max-duration", "forever"], "--max-duration"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    tmp_path: Path, metrics: list[dict[str, Any]], extra: list[str], message: str
) -> None:
    result = invoke(str(write_template(tmp_path, metrics)), *extra)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_missing_argument_and_missing_file_exit_2(tmp_path: Path) -> None:
    path = write_template(tmp_path, [exit_with("{{args.code}}")], args=[{"name": "code"}])
    result = invoke(str(path))
    assert result.exit_code == 2 and "args.code: required argument has no value" in result.output
    assert invoke(str(tmp_path / "absent.yaml")).exit_code == 2


def test_registered_on_the_serinus_command() -> None:
    from serinus.entrypoints.cli import main

    main._register()
    result = CliRunner().invoke(main.app, ["analyze", "run", "--help"])
    assert result.exit_code == 0 and "--arg" in result.output
