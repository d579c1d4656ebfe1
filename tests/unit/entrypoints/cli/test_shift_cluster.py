"""`serinus shift --virtual-service`: arguments are checked before any connection is made.

These runs never reach an API server: each fails on its arguments or its kubeconfig, and the
error names the flag to change. The shifts themselves against the API stand-in are in
tests/integration/kube/test_shift_in_cluster.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from serinus.entrypoints.cli import main

main._register()

TARGET = ("--target-service", "new-server", "--percentage", "10")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main.app, ["shift", *args])


def flat(result: Result) -> str:
    return " ".join(result.output.split())


@pytest.fixture
def vs_file(tmp_path: Path) -> Path:
    path = tmp_path / "vs.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "game"},
                "spec": {"http": [{"route": [{"destination": {"host": "old-server"}}]}]},
            }
        )
    )
    return path


def test_neither_a_file_nor_a_virtual_service_is_refused() -> None:
    result = invoke(*TARGET)

    assert result.exit_code == 1
    assert "give exactly one of -f/--filename" in flat(result)


def test_a_file_and_a_virtual_service_together_are_refused(vs_file: Path) -> None:
    result = invoke("-f", str(vs_file), "--virtual-service", "game", *TARGET)

    assert result.exit_code == 1
    assert "give exactly one of -f/--filename (a manifest) and --virtual-service" in flat(result)


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (("-n", "game"), "-n/--namespace"),
        (("--kubeconfig", "/nowhere"), "--kubeconfig"),
        (("--context", "prod"), "--context"),
        (("--dry-run",), "--dry-run"),
    ],
)
def test_cluster_options_with_a_file_are_refused(
    vs_file: Path, extra: tuple[str, ...], flag: str
) -> None:
    result = invoke("-f", str(vs_file), *TARGET, *extra)

    assert result.exit_code == 1
    assert f"{flag}: only applies with --virtual-service" in flat(result)


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (("--virtual-service", " "), "--virtual-service"),
        (("--virtual-service", "game", "-n", ""), "-n/--namespace"),
        (("--virtual-service", "game", "--route", ""), "--route"),
    ],
)
def test_empty_names_are_refused(extra: tuple[str, ...], flag: str) -> None:
    result = invoke(*extra, *TARGET)

    assert result.exit_code == 1
    assert f"{flag}: must not be empty" in flat(result)


def test_a_percentage_out_of_range_is_refused_by_the_parser() -> None:
    result = invoke("--virtual-service", "game", "--target-service", "x", "--percentage", "101")

    assert result.exit_code == 2
    assert "--percentage" in flat(result)


def test_a_missing_kubeconfig_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-kubeconfig"

    result = invoke("--virtual-service", "game", "--kubeconfig", str(missing), *TARGET)

    assert result.exit_code == 1
    assert "--kubeconfig/--context:" in flat(result)
    assert str(missing) in flat(result)


def test_an_unknown_context_is_named(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "dev",
            }
        )
    )

    result = invoke(
        "--virtual-service", "game", "--kubeconfig", str(kubeconfig), "--context", "prod", *TARGET
    )

    assert result.exit_code == 1
    assert "--kubeconfig/--context:" in flat(result)
    assert "prod" in flat(result)
