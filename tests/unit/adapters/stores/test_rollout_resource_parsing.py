"""rollout_of reuses the model it parsed for a Rollout while the document stays the same."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from serinus.adapters.stores import rollout_resource as documents


def stored(uid: str = "u-1", version: str = "1", name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "team", "uid": uid, "resourceVersion": "7"},
        "spec": {
            "version": version,
            "workload": {"process": {"replicas": 1, "command": ["serve"]}},
            "strategy": {"blueGreen": {}},
            "trafficRouting": {"haproxy": {"port": 18080}},
        },
        "status": {"phase": "Progressing"},
    }


def test_the_same_document_gives_the_same_model_and_a_change_a_new_one() -> None:
    first = documents.rollout_of(stored())
    again = documents.rollout_of(copy.deepcopy(stored()))
    assert again is first  # parsed once
    changed = documents.rollout_of(stored(version="2"))
    assert changed is not first and changed.spec.version == "2"
    labelled = stored(version="2")
    labelled["metadata"]["labels"] = {"team": "a"}
    assert documents.rollout_of(labelled).metadata.labels == {"team": "a"}


def test_status_and_resource_version_do_not_count() -> None:
    first = documents.rollout_of(stored(uid="u-status"))
    later = stored(uid="u-status")
    later["metadata"]["resourceVersion"] = "99"
    later["status"] = {"phase": "Completed"}
    assert documents.rollout_of(later) is first


def test_without_a_uid_every_call_parses() -> None:
    body = stored(uid="")
    assert documents.rollout_of(body) is not documents.rollout_of(body)


def test_two_rollouts_never_share_a_model() -> None:
    a = documents.rollout_of(stored(uid="u-a", name="a"))
    b = documents.rollout_of(stored(uid="u-b", name="b"))
    assert (a.name, b.name) == ("a", "b")
    assert documents.rollout_of(stored(uid="u-a", name="a")) is a


def test_a_bad_document_is_refused_every_time() -> None:
    bad = stored(uid="u-bad")
    bad["spec"]["version"] = ""
    for _ in range(2):
        with pytest.raises(ValidationError):
            documents.rollout_of(bad)


def test_the_oldest_rollout_leaves_first_beyond_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "_PARSED", documents._ParsedRollouts(cap=2))
    parsed = {uid: documents.rollout_of(stored(uid=uid)) for uid in ("x", "y", "z")}
    assert documents.rollout_of(stored(uid="z")) is parsed["z"]
    assert documents.rollout_of(stored(uid="x")) is not parsed["x"]  # dropped for z
