"""Pytest fixtures for the Kubernetes API stand-in.

Reuse them from any test folder with one import in its conftest.py (no `pytest_plugins`):

    from kube_stand_in.kube_fixtures import kube_api, kube_api_thread, kube_client  # noqa: F401

- `kube_api`: a `KubeApiStandIn` serving in the test's event loop (async tests), with the real
  Istio and Gateway API CRDs from `<repo>/third_party/schemas` registered and validating writes
  (when that folder exists), and its kubeconfig written to `kube_api.kubeconfig_path`.
- `kube_client`: a `KubeClient` connected to `kube_api` through that kubeconfig.
- `kube_api_thread`: the same server in a thread of its own, for sync tests whose code blocks
  (CLI runs, subprocesses waited on synchronously). Set KUBECONFIG to its kubeconfig_path for
  child processes (kopf and the official client read it at import time).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kube_stand_in.kubeapi import KubeApiStandIn
from serinus.adapters.kube.client import KubeClient
from serinus.adapters.kube.schemas import SchemaRegistry

# tests/support/kube_stand_in/kube_fixtures.py -> the repository -> its `third_party/schemas`.
SHARED_SCHEMAS = Path(__file__).resolve().parents[3] / "third_party" / "schemas"


def shared_schemas() -> SchemaRegistry | None:
    """The real CRDs (Istio, Gateway API, Argo Rollouts, Flagger), if the folder is present."""
    return SchemaRegistry.from_directory(SHARED_SCHEMAS) if SHARED_SCHEMAS.is_dir() else None


@pytest_asyncio.fixture
async def kube_api(tmp_path: Path) -> AsyncIterator[KubeApiStandIn]:
    api = KubeApiStandIn(schemas=shared_schemas())
    async with api:
        api.kubeconfig_path = api.write_kubeconfig(tmp_path / "kubeconfig")
        yield api


@pytest_asyncio.fixture
async def kube_client(kube_api: KubeApiStandIn) -> AsyncIterator[KubeClient]:
    async with KubeClient.from_kubeconfig(kube_api.kubeconfig_path) as client:
        yield client


@pytest.fixture
def kube_api_thread(tmp_path: Path) -> Iterator[KubeApiStandIn]:
    api = KubeApiStandIn(schemas=shared_schemas())
    with api.serving_in_thread():
        api.kubeconfig_path = api.write_kubeconfig(tmp_path / "kubeconfig")
        yield api
