"""Fixtures of the metric provider tests: the API stand-in (the job provider needs one)."""

from serinus.testing.kube_fixtures import kube_api, kube_client  # noqa: F401
