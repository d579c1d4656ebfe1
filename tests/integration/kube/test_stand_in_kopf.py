"""kopf runs against the API stand-in: discovery, list/watch and status patches work.

This is what the operator builds on; it runs kopf as a child process, as in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kube_stand_in.kubeapi import KubeApiStandIn

from serinus.adapters.kube.resources import Resource

pytestmark = pytest.mark.integration

ROLLOUTS = Resource("serinus.io", "v1alpha1", "rollouts", "Rollout")
HANDLERS = """
import kopf

@kopf.on.startup()
def configure(settings, **_):
    settings.watching.server_timeout = 5

@kopf.on.create("serinus.io", "v1alpha1", "rollouts")
def created(spec, patch, **_):
    patch.status["phase"] = "Seen"
    patch.status["replicas"] = spec["replicas"]
"""


def test_kopf_handles_a_custom_resource(kube_api_thread: KubeApiStandIn, tmp_path: Path) -> None:
    kube_api_thread.register_crd_document(
        {
            "spec": {
                "group": "serinus.io",
                "scope": "Namespaced",
                "names": {"plural": "rollouts", "kind": "Rollout"},
                "versions": [{"name": "v1alpha1", "subresources": {"status": {}}}],
            }
        }
    )
    handlers = tmp_path / "handlers.py"
    handlers.write_text(HANDLERS)
    env = {**os.environ, "KUBECONFIG": str(kube_api_thread.kubeconfig_path)}
    log = (tmp_path / "kopf.log").open("w")
    operator = subprocess.Popen(
        [sys.executable, "-m", "kopf", "run", "--standalone", "-n", "default", str(handlers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        kube_api_thread.put(ROLLOUTS, {"metadata": {"name": "web"}, "spec": {"replicas": 3}})
        status: dict[str, object] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not status:
            stored = kube_api_thread.stored(ROLLOUTS, "default", "web")
            status = (stored or {}).get("status") or {}
            time.sleep(0.1)
        assert status == {"phase": "Seen", "replicas": 3}, (tmp_path / "kopf.log").read_text()
    finally:
        operator.terminate()
        try:
            operator.wait(15)
        except subprocess.TimeoutExpired:
            operator.kill()
            operator.wait(5)
        log.close()
