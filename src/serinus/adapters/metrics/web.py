"""The web metric provider: an HTTP request whose JSON reply holds the value(s).

`jsonPath` (a small safe subset, see `serinus.core.analysis.jsonpath`) selects values in the
reply; each selected value becomes numbers: a number as it is, `true`/`false` as 1/0, a string
that spells a number (`"0.99"`, `"NaN"`) as that number, a list element by element, and `null`
as NaN (no data); an empty list is an empty result (no data). A path that selects nothing (a
missing key or index) is an error, as in Argo Rollouts, and so is anything else (an object, a
word): a reply of the wrong shape is not a measurement.

Errors carry the URL, the HTTP status code and a fixed description, never any part of the reply
(no server-side request forgery with read-back through the status, the API or Events). With an
`EgressGuard`, link-local and metadata addresses are refused before anything is sent.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from serinus.adapters.egress import EgressGuard, guarded
from serinus.core.analysis.jsonpath import JsonPathError, select
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
            raise MetricsError(f"{where}: selects a string that is not a number") from None
    if isinstance(value, list):
        return [number for item in value for number in numbers_of(item, where)]
    raise MetricsError(f"{where}: selects a {type(value).__name__}, not numbers")


class WebProvider:
    def __init__(
        self, transport: httpx.AsyncBaseTransport | None = None, egress: EgressGuard | None = None
    ) -> None:
        self._transport = transport
        self._egress = egress

    async def measure(self, source: WebSource) -> list[float]:
        headers = {header.key: header.value for header in source.headers}
        try:
            verify = not source.insecure
            async with httpx.AsyncClient(
                timeout=source.timeout,
                verify=verify,
                transport=guarded(self._egress, self._transport, verify),
            ) as client:
                response = await client.request(
                    source.method, source.url, headers=headers, content=source.body
                )
        except httpx.TimeoutException as exc:
            raise MetricsError(f"web {source.url}: no answer within {source.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise MetricsError(f"web {source.url}: cannot connect ({type(exc).__name__})") from exc
        code = response.status_code
        if not response.is_success:
            raise MetricsError(f"web {source.url}: HTTP {code}, not a success")
        try:
            document = json.loads(response.content)
        except ValueError as exc:
            raise MetricsError(f"web {source.url}: HTTP {code}, the reply is not JSON") from exc
        where = f"web {source.url} jsonPath {source.json_path}"
        try:
            selected = select(document, source.json_path)
        except JsonPathError as exc:
            raise MetricsError(f"{where}: {exc}") from exc
        return [number for value in selected for number in numbers_of(value, where)]
