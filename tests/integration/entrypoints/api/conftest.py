"""The real kube-apiserver for the API's cluster-identity tests (see tests/support/real_kube.py)."""

from real_kube_fixtures import real_kube  # noqa: F401
