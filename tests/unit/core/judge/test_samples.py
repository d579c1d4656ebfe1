"""Reading samples per metric: null is NaN, anything else that is not a number is an error."""

from __future__ import annotations

import math
from typing import Any

import pytest

from serinus.core.errors import InvalidInput
from serinus.core.judge.samples import parse_samples


def test_numbers_and_nulls() -> None:
    samples = parse_samples({"latency": {"baseline": [1, 2.5], "canary": [None, 3]}})
    assert samples["latency"].baseline == (1.0, 2.5)
    assert math.isnan(samples["latency"].canary[0]) and samples["latency"].canary[1] == 3.0


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"latency": {"baseline": [1], "canary": [1, 2, 3, "x"]}},
            ["data.latency.canary[3]: expected a number or null"],
        ),
        (
            {"latency": {"baseline": [True], "canary": []}},
            ["data.latency.baseline[0]: expected a number or null"],
        ),
        (
            {"latency": {"baseline": [float("inf")], "canary": []}},
            ["data.latency.baseline[0]: expected a finite number or null"],
        ),
        (
            {"latency": {"baseline": 3, "canary": []}},
            ["data.latency.baseline: expected a list of numbers"],
        ),
        (
            {"latency": {"canary": [], "extra": []}},
            [
                "data.latency.extra: unknown field",
                "data.latency.baseline: required field is missing",
            ],
        ),
        ({"latency": [1, 2]}, ["data.latency: expected a mapping with baseline and canary lists"]),
        ([1], ["data: expected a mapping of metric name to {baseline, canary}"]),
    ],
)
def test_problems_name_their_path(document: Any, expected: list[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_samples(document)
    assert caught.value.problems == expected
