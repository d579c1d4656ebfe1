"""Pytest fixtures for the real kube-apiserver (see real_kube.py for what the server offers).

Use them from any test folder with one import in its conftest.py:

    from real_kube_fixtures import real_kube  # noqa: F401

`real_kube` is session-scoped: one etcd + kube-apiserver per pytest process (per xdist worker),
about 5 s to start and 500 MB of memory. When the binaries are missing the tests that use it are
skipped, saying how to build them, unless SERINUS_REQUIRE_REAL_KUBE=1 (as `scripts/test` and CI
set), where they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from real_kube import SERINUS_CRDS, RealKube, RealKubeUnavailable, find_binaries


@pytest.fixture(scope="session")
def real_kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealKube]:
    try:
        find_binaries()
    except RealKubeUnavailable as exc:
        if os.environ.get("SERINUS_REQUIRE_REAL_KUBE"):
            pytest.fail(f"SERINUS_REQUIRE_REAL_KUBE is set but {exc}")
        pytest.skip(str(exc))
    with RealKube.running(tmp_path_factory.mktemp("real-kube")) as kube:
        kube.install_crds(SERINUS_CRDS)
        yield kube
