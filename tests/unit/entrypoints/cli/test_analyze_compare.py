"""`serinus analyze compare`: config and data in, a table or JSON out, the verdict as exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner, Result

from serinus.entrypoints.cli.analyze import analyze_app

DATA = Path(__file__).parents[3] / "unit" / "core" / "judge" / "data"
CONFIG = DATA / "kayenta_canary_config.json"
METRIC_KEYS = [
    "name",
    "classification",
    "critical",
    "pValue",
    "statistic",
    "estimate",
    "ciLow",
    "ciHigh",
    "effectSize",
    "baselineCount",
    "canaryCount",
    "reason",
]

cli = typer.Typer()
cli.add_typer(analyze_app, name="analyze")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["analyze", "compare", *args])


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_healthy_canary_passes_with_exit_code_0() -> None:
    result = run("--config", str(CONFIG), "--data", str(DATA / "healthy_data.json"))
    assert result.exit_code == 0, result.output
    assert "verdict: Pass" in result.output
    assert "request_error_rate" in result.output and "latency_p95" in result.output


def test_json_output_has_exactly_the_documented_shape() -> None:
    result = run(
        "--config", str(CONFIG), "--data", str(DATA / "error_spike_data.json"), "-o", "json"
    )
    assert result.exit_code == 4, result.output
    report = json.loads(result.output)
    assert list(report) == ["metrics", "groups", "score", "verdict"]
    assert all(list(metric) == METRIC_KEYS for metric in report["metrics"])
    errors = report["metrics"][0]
    assert (errors["name"], errors["classification"], errors["critical"]) == (
        "request_error_rate",
        "High",
        True,
    )
    assert errors["pValue"] < 1e-6 and errors["ciLow"] > 0
    assert report["groups"] == {"errors": 0.0, "latency": 100.0, "resources": 100.0}
    assert (report["score"], report["verdict"]) == (0.0, "Fail")


def test_marginal_exits_3_and_missing_metric_is_nodata(tmp_path: Path) -> None:
    config = {
        "metrics": [
            {
                "name": name,
                "groups": ["g"],
                "analysisConfigurations": {"canary": {"direction": "increase"}},
            }
            for name in ("a", "b", "c", "d", "e")
        ],
        "classifier": {"scoreThresholds": {"pass": 90, "marginal": 70}},
    }
    steady = {"baseline": [1.0, 2, 3, 4, 5, 6], "canary": [2.0, 1, 4, 3, 6, 5.5]}
    data = {
        "a": steady,
        "b": steady,
        "c": steady,
        "d": {"baseline": [1.0, 2, 3, 1, 2], "canary": [9.0, 8, 9, 8, 9]},
    }
    result = run(
        "--config",
        write(tmp_path, "c.json", config),
        "--data",
        write(tmp_path, "d.json", data),
        "-o",
        "json",
    )
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    missing = report["metrics"][4]
    assert missing["classification"] == "Nodata"
    assert "no samples for this metric" in missing["reason"]
    assert report["score"] == 75.0 and report["verdict"] == "Marginal"


def test_malformed_data_exits_2_naming_the_field(tmp_path: Path) -> None:
    data = {"latency_p95": {"baseline": [1, 2], "canary": [1, 2, 3, "slow"]}}
    result = run("--config", str(CONFIG), "--data", write(tmp_path, "d.json", data))
    assert result.exit_code == 2
    assert "data.latency_p95.canary[3]: expected a number or null" in result.output


def test_malformed_config_exits_2_naming_the_field(tmp_path: Path) -> None:
    config = {
        "metrics": [
            {
                "name": "m",
                "groups": ["g"],
                "analysisConfigurations": {"canary": {"mustHaveData": "true"}},
            }
        ]
    }
    result = run(
        "--config", write(tmp_path, "c.json", config), "--data", str(DATA / "healthy_data.json")
    )
    assert result.exit_code == 2
    assert (
        "metrics[0].analysisConfigurations.canary.mustHaveData: Input should be a valid boolean"
        in result.output
    )


def test_unreadable_files_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run("--config", str(broken), "--data", str(DATA / "healthy_data.json"))
    assert result.exit_code == 2 and "is not valid JSON" in result.output
    result = run(
        "--config", str(tmp_path / "absent.json"), "--data", str(DATA / "healthy_data.json")
    )
    assert result.exit_code == 2 and "cannot read config" in result.output


def test_the_serinus_command_has_analyze_compare() -> None:
    command = [
        sys.executable,
        "-c",
        "from serinus.entrypoints.cli.main import main; main()",
        "analyze",
        "compare",
        "--config",
        str(CONFIG),
        "--data",
        str(DATA / "error_spike_data.json"),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert finished.returncode == 4, finished.stderr
    assert "verdict: Fail" in finished.stdout
