"""Test-only stand-ins for the Kubernetes API (like httpx's MockTransport); not in the wheel.

For unit-level tests that need no real server (the real one: real_kube.py).
- kubeapi.py: `KubeApiStandIn`, an in-process Kubernetes API server for tests.
- kube_fixtures.py: pytest fixtures serving it (import them into a conftest.py).
"""
