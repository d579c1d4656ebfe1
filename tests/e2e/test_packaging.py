"""A plain `pip install serinus` (no extras) gives a CLI that works: the wheel is built and
installed into a fresh venv (no system site-packages, so FastAPI, kopf and the Kubernetes client
are really absent) from a local wheelhouse with --no-index, then the offline tools run and the
commands that need an extra say which one in one line.

The wheelhouse holds the core dependencies at the versions of this checkout's .venv (and the
build backend); it is downloaded once from PyPI into ~/.cache/serinus (or $SERINUS_WHEELHOUSE).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JUDGE_DATA = ROOT / "tests" / "unit" / "core" / "judge" / "data"
BUILD_BACKEND = ["hatchling>=1.25"]
NOT_CORE = ("fastapi", "uvicorn", "kopf", "kubernetes", "starlette", "jsonschema", "aiohttp")
VIRTUAL_SERVICE = """\
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: game}
spec:
  hosts: [game]
  http:
  - route:
    - destination: {host: old-server}
      weight: 100
"""


def run(*command: str | Path, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False,
        timeout=900, **options,  # type: ignore[call-overload]
    )  # fmt: skip


def constraints() -> str:
    """This .venv's versions, so the fresh install runs what the tests ran."""
    pins = {
        f"{dist.metadata['Name'].lower()}=={dist.version}"
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"] and dist.metadata["Name"].lower() != "serinus"
    }
    return "\n".join(sorted(pins)) + "\n"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pins = constraints()
    key = hashlib.sha256((pins + (ROOT / "pyproject.toml").read_text()).encode()).hexdigest()
    cache = Path(os.environ.get("SERINUS_WHEELHOUSE", Path.home() / ".cache" / "serinus"))
    house = cache / f"wheelhouse-{key[:16]}"
    if (house / "complete").exists():
        return house
    house.mkdir(parents=True, exist_ok=True)
    pinned = tmp_path_factory.mktemp("pins") / "constraints.txt"
    pinned.write_text(pins)
    pip = [sys.executable, "-m", "pip", "download", "-q", "-d", house, "-c", pinned]
    core = run(*pip, "--only-binary=:all:", ROOT)  # the core dependencies, not the extras
    assert core.returncode == 0, core.stderr
    backend = run(*pip, *BUILD_BACKEND)
    assert backend.returncode == 0, backend.stderr
    (house / "complete").write_text(pins)
    return house


@pytest.fixture(scope="module")
def installed(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bin/ folder of a fresh venv holding serinus without extras."""
    work = tmp_path_factory.mktemp("packaging")
    offline = ["--no-index", "--find-links", wheelhouse]
    built = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *offline,
                "-w", work / "dist", ROOT)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (work / "dist").glob("serinus-*.whl")
    venv = work / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    made = run(base, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    install = run(venv / "bin" / "python", "-m", "pip", "install", "-q", *offline, wheel)
    assert install.returncode == 0, install.stderr
    yield venv / "bin"


def serinus(
    bin_dir: Path, *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(bin_dir.parent), "COLUMNS": "200",
           "SERINUS_STATE_DIR": str(bin_dir.parent / "state")}  # fmt: skip
    return run(bin_dir / "serinus", *args, env=env, cwd=cwd or bin_dir.parent)


def test_the_extras_are_really_absent(installed: Path) -> None:
    for module in NOT_CORE:
        found = run(installed / "python", "-c", f"import {module}")
        assert found.returncode != 0, f"{module} is installed without its extra"


def test_lint_runs(installed: Path) -> None:
    done = serinus(installed, "lint", ROOT / "examples" / "canary" / "rollout.yaml")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")


def test_shift_of_a_file_runs(installed: Path, tmp_path: Path) -> None:
    routes = tmp_path / "vs.yaml"
    routes.write_text(VIRTUAL_SERVICE)

    done = serinus(installed, "shift", "-f", routes, "--target-service", "new-server",
                   "--percentage", "10")  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "new-server" in done.stdout and "weight: 10" in done.stdout
    assert "weight: 90" in done.stdout


def test_analyze_compare_runs(installed: Path) -> None:
    done = serinus(installed, "analyze", "compare",
                   "--config", JUDGE_DATA / "kayenta_canary_config.json",
                   "--data", JUDGE_DATA / "error_spike_data.json")  # fmt: skip

    assert done.returncode == 4, done.stderr  # the verdict's exit code: Fail
    assert "verdict: Fail" in done.stdout


def test_the_local_store_and_help_work(installed: Path) -> None:
    helped = serinus(installed, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout and "operator" in helped.stdout

    missing = serinus(installed, "get", "web")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: rollout 'web' not found (known: none)"


@pytest.mark.parametrize(
    ("args", "extra"),
    [(["serve"], "api"), (["demo"], "api"), (["operator", "-A"], "kubernetes")],
)
def test_commands_of_an_extra_name_it_in_one_line(
    installed: Path, args: list[str], extra: str
) -> None:
    done = serinus(installed, *args)

    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: serinus {args[0]} needs the {extra} extra: pip install 'serinus[{extra}]'"
    )


def test_the_cluster_mode_names_its_extra(installed: Path) -> None:
    done = serinus(installed, "get", "web", "-n", "prod")

    assert done.returncode == 1
    assert "needs the kubernetes extra: pip install 'serinus[kubernetes]'" in done.stderr
    assert "Traceback" not in done.stderr
