"""Per-server weights give each color exactly its share, whatever its replica count."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from serinus.adapters.routers.haproxy.weighting import (
    MAX_SERVER_WEIGHT,
    color_shares,
    server_weights,
)

shares = st.integers(0, 100).map(lambda blue: {"blue": blue, "green": 100 - blue})
counts = st.fixed_dictionaries({"blue": st.integers(0, 40), "green": st.integers(0, 40)})


@given(shares, counts)
def test_weights_are_in_range_and_one_per_ready_server(
    wanted: dict[str, int], ready: dict[str, int]
) -> None:
    weights = server_weights(wanted, ready)  # type: ignore[arg-type]
    for color, count in ready.items():
        assert len(weights[color]) == count  # type: ignore[index]
        assert all(0 <= w <= MAX_SERVER_WEIGHT for w in weights[color])  # type: ignore[index]


@given(shares, counts)
def test_color_shares_are_exact_when_every_color_with_traffic_has_a_ready_server(
    wanted: dict[str, int], ready: dict[str, int]
) -> None:
    serving = [c for c in wanted if wanted[c] > 0 and ready[c] > 0]
    weights = server_weights(wanted, ready)  # type: ignore[arg-type]
    total = sum(sum(ws) for ws in weights.values())
    if len(serving) == len([c for c in wanted if wanted[c] > 0]):
        for color in wanted:
            assert Fraction(sum(weights[color]), total) == Fraction(wanted[color], 100)  # type: ignore[index]
    elif serving:
        # A color that has a share but no replica loses it to the others; never zero overall.
        assert total > 0
    else:
        assert total == 0


def test_a_color_at_zero_gets_weight_zero_on_every_server() -> None:
    assert server_weights({"blue": 100, "green": 0}, {"blue": 2, "green": 3}) == {
        "blue": [250, 250],
        "green": [0, 0, 0],
    }


def test_uneven_replica_counts_keep_the_split() -> None:
    # 3 blue and 2 green replicas: equal per-server weights would give green 40%, not 10%.
    weights = server_weights({"blue": 90, "green": 10}, {"blue": 3, "green": 2})
    assert weights == {"blue": [240, 240, 240], "green": [40, 40]}
    assert color_shares({c: sum(ws) for c, ws in weights.items()}) == {"blue": 90, "green": 10}  # type: ignore[misc]


def test_shares_from_no_weight_at_all_are_zero() -> None:
    assert color_shares({"blue": 0, "green": 0}) == {"blue": 0, "green": 0}


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_shares_sum_to_100(blue: int, green: int) -> None:
    shares_ = color_shares({"blue": blue, "green": green})
    assert sum(shares_.values()) == (100 if blue + green else 0)
