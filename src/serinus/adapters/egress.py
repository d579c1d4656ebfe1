"""The outbound-address guard: no request from a spec's URL reaches link-local or metadata hosts.

A Rollout's author chooses the URLs of web and Prometheus metrics and of webhooks; the process
that calls them (the operator, in a cluster) may reach addresses the author cannot, above all a
cloud's instance-metadata service, which hands out credentials. `EgressGuard` refuses, after DNS
resolution (so a name that points there is refused too):

- link-local addresses, 169.254.0.0/16 and fe80::/10 (where AWS, GCP, Azure and OpenStack serve
  metadata, 169.254.169.254, and where ECS serves task credentials);
- the other known metadata addresses: fd00:ec2::254 (AWS over IPv6), 100.100.100.200 (Alibaba
  Cloud), and the names `metadata.google.internal`, `metadata.goog` and `metadata`;
- IPv4 addresses written as IPv6 (`::ffff:169.254.169.254`) are judged as the IPv4 address.

`allow` admits networks or host names an operator trusts. `GuardedTransport` applies the guard to
every request of an httpx client and connects to the very address it checked (the host name stays
in the Host header and TLS SNI, so certificates are still verified against it): a name that
resolves differently a moment later (DNS rebinding) cannot slip past the check.

The transports `guarded` builds share one verified SSL context per process (`verified_context`):
loading the CA bundle into a new context cost more than all else the operator did while taking
on 500 Rollouts (44% of its CPU), and a context holds no per-rollout state (certificates are
checked per connection, against the name each request carries).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import httpx

from serinus.core.errors import DependencyError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

LINK_LOCAL: tuple[IpNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
)
METADATA_ADDRESSES: frozenset[IpAddress] = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})


class EgressRefused(DependencyError):
    """A request to an address the guard does not admit; nothing was sent."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for `host` (an address resolves to itself)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _address(text: str) -> IpAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _why_refused(address: IpAddress) -> str | None:
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if any(address in network for network in LINK_LOCAL):
        return "a link-local address"
    return None


@dataclass(frozen=True)
class EgressGuard:
    """Checks a host before anything is sent to it; `allow` lists trusted networks and names."""

    allow_networks: tuple[IpNetwork, ...] = ()
    allow_hosts: frozenset[str] = frozenset()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def allowing(cls, entries: Iterable[str], resolver: Resolver = system_resolver) -> EgressGuard:
        """A guard admitting each entry, a network (`169.254.10.0/24`) or a host name."""
        networks: list[IpNetwork] = []
        hosts: set[str] = set()
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                hosts.add(entry.strip().lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts), resolver)

    def _admitted(self, address: IpAddress) -> bool:
        return any(address in network for network in self.allow_networks)

    async def checked_address(self, host: str, port: int) -> str:
        """The address to connect to for `host`; EgressRefused when any of its addresses is
        refused (a name with one bad address among good ones is refused whole)."""
        name = host.lower().rstrip(".").strip("[]")
        if name in self.allow_hosts:
            return host
        if name in METADATA_NAMES:
            raise EgressRefused(f"refused to connect to {name}: a cloud metadata host")
        try:
            resolved = await self.resolver(name, port)
        except OSError as exc:
            raise EgressRefused(f"cannot resolve {name} ({type(exc).__name__})") from exc
        if not resolved:
            raise EgressRefused(f"cannot resolve {name}: no address")
        for text in resolved:
            address = _address(text)
            why = _why_refused(address)
            if why is not None and not self._admitted(address):
                shown = name if str(address) == name else f"{name} ({address})"
                raise EgressRefused(
                    f"refused to connect to {shown}: {why}; an operator may allow it "
                    "explicitly (egress allowlist)"
                )
        return str(_address(resolved[0]))


def _default_port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that checks every request's host and connects to the checked address."""

    def __init__(self, guard: EgressGuard, inner: httpx.AsyncBaseTransport) -> None:
        self._guard = guard
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        address = await self._guard.checked_address(host, _default_port(request.url))
        if address != host:
            request.url = request.url.copy_with(host=address)
            # the Host header already names the host; TLS SNI and the certificate check use the
            # name too, never the address
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@functools.cache
def verified_context() -> ssl.SSLContext:
    """The process's one verified SSL context (httpx's default CAs, SSL_CERT_FILE/DIR honoured).

    Shared by every HTTP/1.1 transport `guarded` builds; httpcore sets the same ALPN list
    (http/1.1) on it for each connection, so sharing it changes nothing a connection sees."""
    return httpx.create_ssl_context(verify=True)


def guarded(
    guard: EgressGuard | None, transport: httpx.AsyncBaseTransport | None, verify: bool | str
) -> httpx.AsyncBaseTransport | None:
    """The transport a provider's client uses: `transport` as given, behind `guard` when set.

    With `verify=True` the transport it builds uses `verified_context()`; a CA bundle path (or
    False) gets its own context, read now, so an edited bundle applies to the next client."""
    if guard is None:
        return transport
    if transport is None:
        chosen = verified_context() if verify is True else verify
        transport = httpx.AsyncHTTPTransport(verify=chosen)
    return GuardedTransport(guard, transport)
