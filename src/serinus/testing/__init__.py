"""Testing aids shipped with serinus (like httpx's MockTransport): stand-ins for real systems.

- kubeapi.py: `KubeApiStandIn`, an in-process Kubernetes API server for tests.
- kube_fixtures.py: pytest fixtures serving it (import them into a conftest.py).
"""
