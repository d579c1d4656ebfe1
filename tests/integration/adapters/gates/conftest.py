"""The job gate's tests run against the real kube-apiserver (see tests/support/real_kube.py)."""

from real_kube_fixtures import real_kube  # noqa: F401
