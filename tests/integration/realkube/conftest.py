"""Fixtures of the real-API-server tier: one kube-apiserver per test process."""

from real_kube_fixtures import real_kube  # noqa: F401
