"""Trusted reverse proxies: who the client really is, and whether it came over TLS.

Behind a proxy that terminates TLS, the server sees the proxy's address and
plain HTTP. The proxy says who the client was and how it connected in
``Forwarded`` (RFC 7239) or ``X-Forwarded-For`` / ``X-Forwarded-Proto``. Anyone
can write those headers, so they are believed only on a request from an
address in ``--trusted-proxies``; a chain of proxies is walked back from the
nearest one, skipping every trusted hop, to the first address that is not one.

Hand-written because aiohttp-remotes, the maintained alternative, either
believes the headers from any peer (its filtered mode) or wants one trusted
set per hop and refuses direct clients (its strict mode).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import hdrs, web

__all__ = ["TrustedProxies"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """The networks whose forwarding headers are believed; none by default."""

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks = tuple(ipaddress.ip_network(network, strict=False) for network in networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self._networks)

    def resolve(self, request: web.Request) -> web.Request:
        """``request`` as the client made it (its address, its scheme), if a trusted proxy
        forwarded it; else ``request`` itself."""
        if not self._networks:
            return request
        peername = request.transport.get_extra_info("peername") if request.transport else None
        peer = _address(peername[0]) if isinstance(peername, tuple) else None
        if peer is None or not self.trusts(peer):
            return request
        client, scheme = peer, None
        for address, hop_scheme in reversed(_hops(request)):
            if address is None:
                break  # "unknown" or garbled: nothing before it can be traced
            client, scheme = address, hop_scheme
            if not self.trusts(address):
                break
        if client == peer:
            return request
        changes = {"remote": str(client)}
        if scheme in ("http", "https"):
            changes["scheme"] = scheme
        return request.clone(**changes)  # type: ignore[arg-type]  # typed as Any-free kwargs


def _hops(request: web.Request) -> list[tuple[Address | None, str | None]]:
    """Each forwarding hop, the client first: the address it came from, and its scheme.

    ``X-Forwarded-Proto`` gives the scheme the nearest proxy was reached by.
    """
    if hdrs.FORWARDED in request.headers:
        return [
            (_address(element.get("for", "")), element.get("proto"))
            for element in request.forwarded
        ]
    protos = _split(request.headers.getall(hdrs.X_FORWARDED_PROTO, []))
    proto = protos[-1].lower() if protos else None
    addresses = _split(request.headers.getall(hdrs.X_FORWARDED_FOR, []))
    return [(_address(address), proto) for address in addresses]


def _split(values: list[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _address(text: str) -> Address | None:
    """An address from a header: ``192.0.2.1``, ``192.0.2.1:80``, ``[2001:db8::1]:80``."""
    host = text.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
