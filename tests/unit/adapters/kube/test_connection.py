"""The kubeconfig's Authorization header is computed at most once a second, then reused."""

from __future__ import annotations

from serinus.adapters.kube.connection import reused_for


def test_the_header_is_computed_again_only_once_the_reuse_time_has_passed() -> None:
    now = [100.0]
    tokens = iter(["Bearer one", "Bearer two", "Bearer three"])
    calls: list[float] = []

    def compute() -> str | None:
        calls.append(now[0])
        return next(tokens)

    header = reused_for(1.0, compute, clock=lambda: now[0])
    assert header() == "Bearer one"
    now[0] = 100.9
    assert header() == "Bearer one"  # reused: the loader's refresh hook is not run again
    now[0] = 101.0
    assert header() == "Bearer two"  # a rotated token is picked up a second later at most
    assert header() == "Bearer two"
    assert calls == [100.0, 101.0]


def test_no_header_is_an_answer_too() -> None:
    calls = []

    def compute() -> str | None:
        calls.append(1)
        return None

    header = reused_for(1.0, compute, clock=lambda: 5.0)
    assert header() is None and header() is None
    assert calls == [1]
