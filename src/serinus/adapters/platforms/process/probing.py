"""HTTP readiness checks and warm-up requests against replicas on the loopback interface."""

from __future__ import annotations

import asyncio

import httpx

from serinus.core.spec import HttpCheck, Warmup

LOOPBACK = "127.0.0.1"
WARMUP_CONCURRENCY = 4


class Prober:
    """One HTTP client for every check (creating a client costs ~20 ms), bound to one loop.

    Checks open a fresh connection each time, which is what a new user connection would meet,
    and holds no idle connection (and thread) in the replica.
    """

    def __init__(self) -> None:
        self._client = httpx.AsyncClient(
            trust_env=False,  # never send loopback checks through an HTTP proxy from the env
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.loop = asyncio.get_running_loop()

    async def ready(self, port: int, check: HttpCheck) -> bool:
        """GET the readiness path within the check's timeout: ready on a 2xx answer."""
        try:
            response = await self._client.get(
                f"http://{LOOPBACK}:{port}{check.path}", timeout=check.timeout_seconds
            )
        except httpx.HTTPError:
            return False
        return response.is_success

    async def warm(self, port: int, warmup: Warmup, timeout: float) -> bool:
        """Send the warm-up requests; False if the replica stopped answering (warm it again).

        Any HTTP answer counts, an error status included: warming is not judging.
        """
        url = f"http://{LOOPBACK}:{port}{warmup.path}"
        remaining = warmup.requests

        async def send_share() -> bool:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                try:
                    await self._client.get(url, timeout=timeout)
                except httpx.HTTPError:
                    return False
            return True

        workers = min(WARMUP_CONCURRENCY, warmup.requests)
        return all(await asyncio.gather(*(send_share() for _ in range(workers))))

    async def aclose(self) -> None:
        await self._client.aclose()
