"""Fixtures of the operator tests: the API stand-in and a client connected to it."""

from kube_stand_in.kube_fixtures import kube_api, kube_api_thread, kube_client  # noqa: F401
