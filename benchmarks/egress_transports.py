"""What a rollout's guarded HTTP transport costs to build: one SSL context per transport (the
operator before, for each rollout's gate caller and each web/Prometheus measurement) against the
process's one shared context (`adapters.egress.verified_context`), in the same run.

Figures: microseconds per transport built each way and the ratio. Both build the same
`GuardedTransport` around an `httpx.AsyncHTTPTransport`; only where the SSL context comes from
differs (loading the CA bundle is the cost the shared context removes).

    python benchmarks/egress_transports.py [--count 300]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import httpx

from serinus.adapters.egress import EgressGuard, GuardedTransport, guarded, verified_context


def per_transport(guard: EgressGuard) -> GuardedTransport:
    """The former way: the transport makes its own verified context."""
    return GuardedTransport(guard, httpx.AsyncHTTPTransport(verify=True))


def shared(guard: EgressGuard) -> GuardedTransport:
    made = guarded(guard, None, True)
    assert isinstance(made, GuardedTransport)
    return made


def microseconds_each(build: Callable[[EgressGuard], GuardedTransport], count: int) -> float:
    guard = EgressGuard()
    start = time.perf_counter()
    for _ in range(count):
        build(guard)
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="transports built each way")
    count = parser.parse_args().count
    verified_context()  # the one context: built once per process, as in the operator
    rounds = [(microseconds_each(per_transport, count), microseconds_each(shared, count))]
    rounds.append((microseconds_each(per_transport, count), microseconds_each(shared, count)))
    before = min(r[0] for r in rounds)
    after = min(r[1] for r in rounds)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"transports built each way: {count} (best of {len(rounds)} rounds); load {load}")
    print(f"one SSL context per transport: {before:10.1f} us each")
    print(f"the shared SSL context:        {after:10.1f} us each")
    print(f"ratio (per transport / shared): {before / after:.1f}x")


if __name__ == "__main__":
    main()
