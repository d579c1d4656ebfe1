"""`serinus shift`: files and stdin in, shifted manifests out, errors naming the argument."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from serinus.entrypoints.cli import main

main._register()

VS = """\
# stable only, as before the first canary step
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: game
  namespace: prod
spec:
  hosts:
  - game.example.com
  gateways:
  - game-gateway
  http:
  - name: primary
    timeout: 5s
    route:
    - destination:
        host: old-server
      weight: 100
  - name: admin
    match:
    - uri:
        prefix: /admin
    route:
    - destination:
        host: old-server
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: new-server
spec:
  ports:
  - port: 80
"""


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main.app, ["shift", *args], input=stdin)


@pytest.fixture
def vs_file(tmp_path: Path) -> Path:
    path = tmp_path / "vs.yaml"
    path.write_text(VS)
    return path


def routes(document: dict[str, Any], index: int) -> list[tuple[str, int]]:
    return [
        (entry["destination"]["host"], entry["weight"])
        for entry in document["spec"]["http"][index]["route"]
    ]


def test_the_seeds_first_step_adds_the_new_server_at_10(vs_file: Path) -> None:
    result = invoke("-f", str(vs_file), "--target-service", "new-server", "--percentage", "10")
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    assert routes(document, 0) == [("old-server", 90), ("new-server", 10)]
    assert routes(document, 1) == [("old-server", 90), ("new-server", 10)]
    assert document["spec"]["http"][0]["timeout"] == "5s"
    assert list(document) == ["apiVersion", "kind", "metadata", "spec"]
    assert list(document["spec"]) == ["hosts", "gateways", "http"]  # key order kept
    assert vs_file.read_text() == VS  # the file is only read


def test_the_full_rollout_then_rollback_round_trip(vs_file: Path, tmp_path: Path) -> None:
    step = vs_file
    for percentage, expected in [("10", [90, 10]), ("100", [0, 100]), ("0", [100])]:
        result = invoke(
            "-f", str(step), "--target-service", "new-server", "--percentage", percentage
        )
        assert result.exit_code == 0, result.output
        assert [w for _, w in routes(yaml.safe_load(result.stdout), 0)] == expected
        step = tmp_path / f"step-{percentage}.yaml"
        step.write_text(result.stdout)
    assert yaml.safe_load(step.read_text())["spec"]["http"][0]["route"] == [
        {"destination": {"host": "old-server"}, "weight": 100}
    ]


def test_only_the_named_route(vs_file: Path) -> None:
    result = invoke(
        "-f", str(vs_file), "--target-service", "new-server", "--percentage", "30",
        "--route", "admin",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    assert routes(document, 0) == [("old-server", 100)]
    assert routes(document, 1) == [("old-server", 70), ("new-server", 30)]


def test_a_subset_target(tmp_path: Path) -> None:
    path = tmp_path / "vs.yaml"
    path.write_text(VS.replace("host: old-server", "host: game\n        subset: blue"))
    result = invoke(
        "-f", str(path), "--target-service", "game", "--target-subset", "green",
        "--percentage", "25",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    route = yaml.safe_load(result.stdout)["spec"]["http"][0]["route"]
    assert route[1] == {"destination": {"host": "game", "subset": "green"}, "weight": 25}
    assert route[0]["weight"] == 75


def test_stdin_and_json_output() -> None:
    result = invoke("-f", "-", "--target-service", "new-server", "--percentage", "50", "-o", "json",
                    stdin=VS)  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["kind"] == "VirtualService"
    assert routes(document, 0) == [("old-server", 50), ("new-server", 50)]


def test_several_documents_pass_through_in_order(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    path.write_text(f"{SERVICE}---\n{VS}---\n")  # the trailing empty document is dropped
    result = invoke("-f", str(path), "--target-service", "new-server", "--percentage", "10")
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.stdout))
    assert [d["kind"] for d in documents] == ["Service", "VirtualService"]
    assert documents[0] == yaml.safe_load(SERVICE)
    assert routes(documents[1], 0) == [("old-server", 90), ("new-server", 10)]

    as_json = invoke("-f", str(path), "--target-service", "new-server", "--percentage", "10",
                     "-o", "json")  # fmt: skip
    listing = json.loads(as_json.stdout)
    assert listing["kind"] == "List"
    assert listing["items"] == documents


def test_json_input_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "vs.json"
    path.write_text(json.dumps(yaml.safe_load(VS)))
    result = invoke("-f", str(path), "--target-service", "new-server", "--percentage", "10")
    assert result.exit_code == 0, result.output
    assert routes(yaml.safe_load(result.stdout), 0) == [("old-server", 90), ("new-server", 10)]


def test_long_values_are_not_folded(tmp_path: Path) -> None:
    long = "x" * 300
    path = tmp_path / "vs.yaml"
    path.write_text(VS.replace("name: game\n", f"name: game\n  annotations:\n    note: {long}\n"))
    result = invoke("-f", str(path), "--target-service", "new-server", "--percentage", "10")
    assert result.exit_code == 0, result.output
    assert f"note: {long}\n" in result.stdout


# --- errors name the argument ---------------------------------------------------------------


def error_of(result: Result) -> str:
    assert result.exit_code != 0
    assert result.stdout == ""  # nothing printed that could be applied by mistake
    return " ".join(result.stderr.split())


@pytest.mark.parametrize("percentage", ["101", "-1", "ten"])
def test_bad_percentage(vs_file: Path, percentage: str) -> None:
    result = invoke("-f", str(vs_file), "--target-service", "new", "--percentage", percentage)
    assert result.exit_code == 2
    assert "--percentage" in result.stderr


def test_percentage_the_route_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "vs.yaml"
    path.write_text(VS)
    result = invoke("-f", str(path), "--target-service", "old-server", "--percentage", "40")
    assert error_of(result).startswith(
        "error: --percentage: invalid " + str(path) + ": VirtualService 'game': "
        "spec.http[0].route: old-server is the only destination"
    )


def test_unknown_route_lists_the_names(vs_file: Path) -> None:
    result = invoke("-f", str(vs_file), "--target-service", "new", "--percentage", "10",
                    "--route", "main")  # fmt: skip
    message = error_of(result)
    assert message.startswith("error: --route: ")
    assert "no HTTP route named 'main'; available: 'primary', 'admin'" in message


def test_ambiguous_target_names_target_service(tmp_path: Path) -> None:
    path = tmp_path / "vs.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "reviews"},
                "spec": {
                    "http": [
                        {
                            "route": [
                                {"destination": {"host": "reviews", "subset": "v1"}, "weight": 90},
                                {"destination": {"host": "reviews", "subset": "v2"}, "weight": 10},
                            ]
                        }
                    ]
                },
            }
        )
    )
    result = invoke("-f", str(path), "--target-service", "reviews", "--percentage", "50")
    assert error_of(result).startswith("error: --target-service: ")
    assert "matches 2 destinations" in result.stderr


@pytest.mark.parametrize(
    ("flag", "value"), [("--target-service", " "), ("--target-subset", ""), ("--route", "")]
)
def test_empty_names(vs_file: Path, flag: str, value: str) -> None:
    args = {"--target-service": "new", flag: value}
    result = invoke("-f", str(vs_file), *sum(args.items(), ()), "--percentage", "10")
    assert error_of(result) == f"error: {flag}: must not be empty"


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = invoke("-f", str(missing), "--target-service", "new", "--percentage", "10")
    assert error_of(result) == f"error: -f {missing}: no such file"


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    result = invoke("-f", str(tmp_path), "--target-service", "new", "--percentage", "10")
    assert error_of(result) == f"error: -f {tmp_path}: not a file"


def test_invalid_yaml_keeps_the_line(tmp_path: Path) -> None:
    path = tmp_path / "vs.yaml"
    path.write_text("kind: [VirtualService\nspec: {\n")
    result = invoke("-f", str(path), "--target-service", "new", "--percentage", "10")
    message = error_of(result)
    assert message.startswith(f"error: -f {path}: not valid YAML or JSON:")
    assert "line" in message


def test_no_virtual_service(tmp_path: Path) -> None:
    path = tmp_path / "svc.yaml"
    path.write_text(SERVICE)
    result = invoke("-f", str(path), "--target-service", "new", "--percentage", "10")
    assert "error: -f: invalid " in error_of(result)
    assert "no VirtualService" in result.stderr


def test_unsupported_api_version_is_named(vs_file: Path) -> None:
    vs_file.write_text(VS.replace("v1alpha3", "v2"))
    result = invoke("-f", str(vs_file), "--target-service", "new", "--percentage", "10")
    message = error_of(result)
    assert message.startswith("error: -f: invalid ")
    assert "apiVersion: 'networking.istio.io/v2' is not supported" in message


def test_a_bad_weight_is_named_by_path_and_markup_is_not_interpreted(tmp_path: Path) -> None:
    path = tmp_path / "vs.yaml"
    path.write_text(VS.replace("weight: 100", "weight: '[bold]x'"))
    result = invoke("-f", str(path), "--target-service", "new", "--percentage", "10")
    assert "spec.http[0].route[0].weight: expected a non-negative integer, got '[bold]x'" in (
        error_of(result)
    )
