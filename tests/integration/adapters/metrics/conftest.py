"""Fixtures of the metric provider tests: the API stand-in (the job provider needs one)."""

from kube_stand_in.kube_fixtures import kube_api, kube_client  # noqa: F401
