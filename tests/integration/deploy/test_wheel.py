"""The wheel users install holds serinus and nothing test-only (the Kubernetes API stand-in
lives in tests/support/kube_stand_in)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def test_the_wheel_ships_no_test_aids(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("serinus-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    assert "serinus/__init__.py" in names
    assert "serinus/adapters/kube/client.py" in names
    assert not [n for n in names if n.startswith(("serinus/testing/", "tests/", "kube_stand_in"))]
    sources = [zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith(".py")]
    assert not [s for s in sources if "kube_stand_in" in s or "KubeApiStandIn" in s]
