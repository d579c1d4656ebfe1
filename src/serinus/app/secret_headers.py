"""Web metric headers whose values are secrets (`valueFrom`), resolved just before the request.

The web provider sees plain header values; this wrapper resolves each `valueFrom` through the
mode's SecretResolver (Kubernetes Secrets of the rollout's namespace in the operator, the
environment locally) at every measurement, so a rotated Secret is picked up and no value is
kept, stored or shown. A reference that cannot be resolved is a MetricsError naming the
reference, never a value, and no request is sent.
"""

from __future__ import annotations

from serinus.core.analysis.spec import WebHeader, WebSource
from serinus.core.errors import MetricsError, SerinusError
from serinus.core.ports import MetricProvider, SecretResolver


class SecretHeaders:
    """A web provider whose sources may carry `headers[].valueFrom`."""

    def __init__(
        self, inner: MetricProvider[WebSource], resolver: SecretResolver, namespace: str
    ) -> None:
        self.inner = inner
        self.resolver = resolver
        self.namespace = namespace

    async def measure(self, source: WebSource) -> list[float]:
        if not any(header.value_from is not None for header in source.headers):
            return await self.inner.measure(source)
        headers: list[WebHeader] = []
        for index, header in enumerate(source.headers):
            if header.value_from is None:
                headers.append(header)
                continue
            try:
                value = await self.resolver.resolve(header.value_from, self.namespace)
            except SerinusError as exc:
                raise MetricsError(
                    f"web headers[{index}] ({header.key}).valueFrom: {exc}"
                ) from None
            headers.append(WebHeader(key=header.key, value=value))
        return await self.inner.measure(source.model_copy(update={"headers": headers}))
