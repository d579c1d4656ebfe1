"""`serinus lint`: specs are validated without running anything; errors name the field path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from serinus.entrypoints.cli.main import _register, app

_register()
runner = CliRunner()

ROLLOUT: dict[str, Any] = {
    "apiVersion": "serinus.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web"},
    "spec": {
        "version": "v2",
        "workload": {"process": {"command": ["app", "{port}"], "replicas": 3}},
        "trafficRouting": {"haproxy": {"port": 8080}},
        "strategy": {
            "blueGreenCanary": {"steps": [{"setWeight": 10}, {"analysis": {"templates": ["e"]}}]}
        },
        "analysisTemplates": [
            {
                "name": "e",
                "metrics": [
                    {
                        "name": "errors",
                        "successCondition": "result[0] < 0.05",
                        "provider": {"web": {"url": "http://x/", "jsonPath": "$.ratio"}},
                    }
                ],
            }
        ],
    },
}
TEMPLATE: dict[str, Any] = {
    "apiVersion": "serinus.io/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "errors"},
    "spec": {"metrics": ROLLOUT["spec"]["analysisTemplates"][0]["metrics"]},
}


def lint(tmp_path: Path, document: dict[str, Any]) -> tuple[int, str]:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(document))
    result = runner.invoke(app, ["lint", str(path)])
    return result.exit_code, result.output


def edited(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copy: Any = yaml.safe_load(yaml.safe_dump(document))
    target = copy
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    result: dict[str, Any] = copy
    return result


def test_valid_rollout_and_template_pass(tmp_path: Path) -> None:
    code, output = lint(tmp_path, ROLLOUT)
    assert code == 0 and "Rollout web" in output
    code, output = lint(tmp_path, TEMPLATE)
    assert code == 0 and "AnalysisTemplate errors" in output


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.strategy.blueGreenCanary.steps.0.setWeight", 101, "steps[0].setWeight"),
        ("spec.strategy.blueGreenCanary.steps.0", {"setWeigth": 10}, "setWeigth: unknown field"),
        ("spec.workload.process.replicas", 0, "spec.workload.process.replicas"),
        ("spec.version", "", "spec.version"),
        ("spec.strategy.blueGreenCanary.steps.1.analysis.templates", ["nope"], "'nope' is not in"),
        (
            "spec.analysisTemplates.0.metrics.0.successCondition",
            "__import__('os').system('x')",
            "successCondition",
        ),
        ("spec.analysisTemplates.0.metrics.0.provider", {"datadog": {}}, "datadog"),
        ("spec.trafficRouting", {"haproxy": {"port": 70000}}, "trafficRouting.haproxy.port"),
    ],
)
def test_bad_rollouts_are_rejected_naming_the_field(
    tmp_path: Path, path: str, value: Any, expected: str
) -> None:
    code, output = lint(tmp_path, edited(ROLLOUT, path, value))
    assert code == 2
    assert expected in output


def test_a_template_with_an_invalid_condition_is_rejected(tmp_path: Path) -> None:
    bad = edited(TEMPLATE, "spec.metrics.0.successCondition", "result[0] <")
    code, output = lint(tmp_path, bad)
    assert code == 2 and "spec.metrics[0]: successCondition: syntax error at column" in output


def lint_bytes(tmp_path: Path, raw: bytes) -> tuple[int, str]:
    path = tmp_path / "spec.yaml"
    path.write_bytes(raw)
    result = runner.invoke(app, ["lint", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"kind: Rollout\nspec: \xff", "not UTF-8 (invalid byte 0xff"),
        (b"[" * 100_000, "nested more than 64 levels deep"),
        (
            b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + b"".join(
                f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n".encode()
                for p, n in zip("abcdef", "bcdefg", strict=True)
            ),
            "values once aliases are expanded",
        ),
        (b"x: " + b"y" * (2 << 20), "too large"),
        (b"x: [unclosed", "not valid YAML or JSON"),
        (b"[1, 2]", "expected a mapping"),
    ],
)
def test_hostile_files_get_one_line_and_no_traceback(
    tmp_path: Path, raw: bytes, expected: str
) -> None:
    code, output = lint_bytes(tmp_path, raw)
    assert code == 2
    assert expected in output and "Traceback" not in output
    assert len([line for line in output.splitlines() if line.startswith("  ")]) == 1


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.progressDeadlineSeconds", float("nan"), "progressDeadlineSeconds: nan is not"),
        ("spec.progressDeadlineSeconds", 1e308, "at most 31536000 seconds"),
        ("spec.workload.process.readiness", {"timeoutSeconds": float("inf")}, "timeoutSeconds"),
        ("spec.workload.process.readiness", {"periodSeconds": -1}, "negative"),
        ("spec.strategy.blueGreenCanary.scaleDownDelay", "1" * 400 + "s", "invalid duration"),
        ("spec.workload.process.command", ["app", "x" * 10_000], "command[1]"),
        ("spec.workload.process.command", ["app", "a\x00b"], "command[1]"),
        ("spec.workload.process.command", ["--evil"], "not an option"),
        ("spec.trafficRouting.haproxy.bindAddress", "127.0.0.1 ssl", "bindAddress"),
        ("spec.trafficRouting.haproxy.adminSocket", "/tmp/a b", "adminSocket"),
        ("spec.workload.process.readiness", {"path": "/x\nGET /y"}, "readiness.path"),
        (
            "spec.analysisTemplates.0.metrics.0.count",
            3,
            "interval must be set when count > 1",
        ),
    ],
)
def test_out_of_range_values_are_rejected_naming_the_field(
    tmp_path: Path, path: str, value: Any, expected: str
) -> None:
    code, output = lint(tmp_path, edited(ROLLOUT, path, value))
    assert code == 2
    assert expected in output


def test_duplicate_metric_names_across_a_steps_templates_are_rejected(tmp_path: Path) -> None:
    document = edited(
        ROLLOUT, "spec.strategy.blueGreenCanary.steps.1.analysis.templates", ["e", "f"]
    )
    twin = {**document["spec"]["analysisTemplates"][0], "name": "f"}
    document["spec"]["analysisTemplates"].append(twin)
    code, output = lint(tmp_path, document)
    assert code == 2
    assert "metric 'errors' is in both 'e' and 'f'" in output


def test_serinus_run_reads_specs_through_the_same_checks(tmp_path: Path) -> None:
    # `run` reads the file as bytes too: non-UTF-8 is the one-line error, not a traceback.
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"kind: Rollout\nspec: \xff\n")
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "not UTF-8 (invalid byte 0xff at offset 20)" in result.output
