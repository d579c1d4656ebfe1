"""The web metric provider: an HTTP request whose JSON reply holds the value(s).

`jsonPath` (a small safe subset, see `serinus.core.analysis.jsonpath`) selects values in the
reply; each selected value becomes numbers: a number as it is, `true`/`false` as 1/0, a string
that spells a number (`"0.99"`, `"NaN"`) as that number, a list element by element, and `null`
as NaN (no data). A path that selects nothing gives an empty result (no data). Anything else (an
object, a word) is an error naming the path: a reply of the wrong shape is not a measurement.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from serinus.core.analysis.jsonpath import select
from serinus.core.analysis.spec import WebSource
from serinus.core.errors import MetricsError


def numbers_of(value: Any, where: str) -> list[float]:
    if isinstance(value, bool):
        return [1.0 if value else 0.0]
    if isinstance(value, int | float):
        return [float(value)]
    if value is None:
        return [float("nan")]
    if isinstance(value, str):
        try:
            return [float(value)]
        except ValueError:
            raise MetricsError(f"{where}: {value!r} is not a number") from None
    if isinstance(value, list):
        return [number for item in value for number in numbers_of(item, where)]
    raise MetricsError(f"{where}: selects a {type(value).__name__}, not numbers")


class WebProvider:
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport

    async def measure(self, source: WebSource) -> list[float]:
        headers = {header.key: header.value for header in source.headers}
        try:
            async with httpx.AsyncClient(
                timeout=source.timeout, verify=not source.insecure, transport=self._transport
            ) as client:
                response = await client.request(
                    source.method, source.url, headers=headers, content=source.body
                )
        except httpx.TimeoutException as exc:
            raise MetricsError(f"web {source.url}: no answer within {source.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise MetricsError(f"web {source.url}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise MetricsError(
                f"web {source.url}: HTTP {response.status_code}: {response.text[:200]!r}"
            )
        try:
            document = json.loads(response.content)
        except ValueError as exc:
            raise MetricsError(
                f"web {source.url}: the reply is not JSON: {response.text[:200]!r}"
            ) from exc
        where = f"web {source.url} jsonPath {source.json_path}"
        return [
            number
            for value in select(document, source.json_path)
            for number in numbers_of(value, where)
        ]
