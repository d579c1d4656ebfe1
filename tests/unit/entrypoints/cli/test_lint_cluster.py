"""`serinus lint --cluster`: the operator's refusals, before a Rollout reaches the cluster."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from serinus.entrypoints.cli.main import _register, app

_register()
runner = CliRunner()
REPO = Path(__file__).resolve().parents[4]
LOCAL_EXAMPLE = REPO / "examples" / "canary" / "rollout.yaml"  # a process workload


def test_a_local_rollout_passes_lint_and_is_refused_for_the_cluster() -> None:
    assert runner.invoke(app, ["lint", str(LOCAL_EXAMPLE)]).exit_code == 0
    refused = runner.invoke(app, ["lint", "--cluster", str(LOCAL_EXAMPLE)])
    assert refused.exit_code == 2
    assert "spec.workload.process" in refused.output
    assert "--allow-author-commands" in refused.output


def test_an_analysis_template_with_a_command_is_refused_for_the_cluster(tmp_path: Path) -> None:
    template = {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "smoke"},
        "spec": {
            "metrics": [
                {
                    "name": "smoke",
                    "successCondition": "result[0] == 1",
                    "provider": {"command": {"command": ["./smoke.sh"]}},
                }
            ]
        },
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    assert runner.invoke(app, ["lint", str(path)]).exit_code == 0
    refused = runner.invoke(app, ["lint", "--cluster", str(path)])
    assert refused.exit_code == 2 and "spec.metrics[0].provider.command" in refused.output
    job = {"spec": {"template": {"spec": {"containers": [{"name": "s", "image": "smoke"}]}}}}
    template["spec"]["metrics"][0]["provider"] = {"job": {**job, "serviceAccountName": "smoke"}}
    path.write_text(yaml.safe_dump(template))
    assert runner.invoke(app, ["lint", "--cluster", str(path)]).exit_code == 0
