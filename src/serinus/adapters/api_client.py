"""A client of serinus's REST API, for the CLI in cluster mode: gated decisions go to the
operator's API (which authenticates the kubeconfig's bearer token and seals what it records)
instead of being written into the Rollout's status.

The API's refusals come back as the same errors the local operations raise (PermissionDenied,
Conflict, InvalidInput, NotFound) with the API's message, so the CLI reports them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from serinus.core.errors import (
    Conflict,
    DependencyError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SerinusError,
)

API_URL_ENV = "SERINUS_API_URL"
_ERRORS: dict[int, Callable[[str], SerinusError]] = {
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
}


class ApiClient:
    """Operations on rollouts through one serinus API (`async with`, or `close()`).

    `authorization` returns the `Authorization` header to send (called per request: kubeconfig
    tokens rotate); it must be a bearer token, the only credential the API accepts.
    """

    def __init__(
        self,
        base_url: str,
        authorization: Callable[[], str | None],
        *,
        namespace: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.namespace = namespace  # None: the API's default namespace
        self._authorization = authorization
        self._http = httpx.AsyncClient(
            base_url=self.base_url, transport=transport, verify=verify, timeout=timeout
        )

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def rollout(self, name: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/v1/rollouts/{name}")

    async def judge(
        self,
        name: str,
        *,
        approve: bool,
        inputs: Mapping[str, str] | None = None,
        comment: str = "",
        revision: int | None = None,
        step: int | None = None,
    ) -> dict[str, Any]:
        """Decide the pending judgement; without `revision`/`step`, the one this reads now."""
        if revision is None or step is None:
            pending = (await self.rollout(name)).get("judgement")
            if not isinstance(pending, dict):
                raise Conflict(f"cannot judge {name}: no judgement is pending")
            revision = pending["revision"] if revision is None else revision
            step = pending["step"] if step is None else step
        body = {
            "approve": approve,
            "inputs": dict(inputs or {}),
            "comment": comment,
            "revision": revision,
            "step": step,
        }
        return await self._call("POST", f"/api/v1/rollouts/{name}/judge", body)

    async def promote(
        self,
        name: str,
        *,
        full: bool = False,
        comment: str = "",
        revision: int | None = None,
        step: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"full": full, "comment": comment}
        if revision is not None:
            body["revision"] = revision
        if step is not None:
            body["step"] = step
        return await self._call("POST", f"/api/v1/rollouts/{name}/promote", body)

    async def operate(self, name: str, operation: str, comment: str = "") -> dict[str, Any]:
        """abort, retry, pause, resume or undo."""
        return await self._call(
            "POST", f"/api/v1/rollouts/{name}/{operation}", {"comment": comment}
        )

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        header = self._authorization()
        if not header or not header.lower().startswith("bearer "):
            raise InvalidInput(
                [
                    "the kubeconfig's user has no bearer token, the only credential the serinus "
                    "API accepts (client certificates and basic auth cannot be checked by it): "
                    "use a context with a token (e.g. `kubectl create token NAME`)"
                ],
                "kubeconfig",
            )
        try:
            response = await self._http.request(
                method,
                path,
                json=body,
                headers={"Authorization": header},
                params={"namespace": self.namespace} if self.namespace else None,
            )
        except httpx.TransportError as exc:
            raise DependencyError(
                f"cannot reach the serinus API at {self.base_url}: {type(exc).__name__}"
            ) from None
        if response.status_code < 400:
            answer = response.json()
            if not isinstance(answer, dict):
                raise DependencyError(f"the serinus API at {self.base_url} answered a non-object")
            return answer
        detail, problems = _detail(response)
        if response.status_code == 422:
            raise InvalidInput(problems or [detail], "request")
        if response.status_code == 401:
            raise PermissionDenied(
                f"the serinus API at {self.base_url} refused the token: {detail}"
            )
        error = _ERRORS.get(response.status_code)
        if error is not None:
            raise error(detail)
        raise DependencyError(
            f"the serinus API at {self.base_url} answered HTTP {response.status_code}: {detail}"
        )


def _detail(response: httpx.Response) -> tuple[str, list[str]]:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}", []
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}", []
    problems = body.get("problems")
    return str(body.get("detail", "")), [str(p) for p in problems or []]
