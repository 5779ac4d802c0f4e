"""Who the client is behind trusted reverse proxies: X-Forwarded-For / -Proto and RFC 7239
`Forwarded`, believed only when the TCP peer is a proxy the operator listed (pure, no I/O).

Forwarded headers from anyone else are ignored, so nobody can choose the address a
per-IP limit or the audit log sees by sending them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BadProxyList(ValueError):
    """A CHATIQ_TRUSTED_PROXIES entry that is neither an address nor a CIDR range."""

    def __init__(self, entry: str):
        super().__init__(entry)
        self.entry = entry


def parse_trusted(text: str | None) -> tuple[Network, ...]:
    """'127.0.0.1, 10.0.0.0/8, ::1' → networks; empty → (), the headers are never read."""
    networks = []
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            # strict=False: "10.0.0.1/8" means the /8 around it, as most proxies read it.
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise BadProxyList(entry) from None
    return tuple(networks)


@dataclass(frozen=True)
class Seen:
    """The client as ChatIQ believes it: its address and the scheme it used (None: as
    the connection says)."""

    remote: str | None
    scheme: str | None


def _address(value: str) -> Address | None:
    """An address from a header element: '203.0.113.9', '[2001:db8::1]:4711',
    '198.51.100.7:80'; None for anything else ('unknown', '_hidden', junk)."""
    value = value.strip().strip('"').strip()
    if value.startswith("["):  # [v6] or [v6]:port
        end = value.find("]")
        if end < 0:
            return None
        value = value[1:end]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: Address, trusted: Iterable[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in trusted)


def _forwarded_pairs(headers: list[str]) -> list[dict[str, str]] | None:
    """RFC 7239 elements in order, each {parameter: value}; None if one is malformed."""
    elements = []
    for header in headers:
        for element in _split_outside_quotes(header, ","):
            if not element.strip():
                continue
            pairs = {}
            for pair in _split_outside_quotes(element, ";"):
                name, eq, value = pair.strip().partition("=")
                if not eq or not name:
                    return None
                pairs[name.strip().lower()] = value.strip().strip('"')
            elements.append(pairs)
    return elements


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _client(peer: Address, chain: list[str], trusted: tuple[Network, ...]) -> Address | None:
    """The right-most address of `chain` + peer that is not a trusted proxy; None when an
    element we have to read is not an address (the caller then keeps the peer)."""
    for raw in reversed(chain):
        address = _address(raw)
        if address is None:
            return None
        if not _trusted(address, trusted):
            return address
        peer = address
    return peer  # every hop is one of ours: the left-most is the best we know


def see_client(peer: str | None, headers, trusted: tuple[Network, ...]) -> Seen:
    """Who sent this request. `headers` is a multidict (getall); `peer` the TCP peer.

    X-Forwarded-For wins when present (nginx, Caddy, Traefik and Procfile routers set it);
    `Forwarded` is read only without it, so a proxy that sets one must not pass on a
    client's copy of the other (docs/deployment.md).
    """
    if not trusted or peer is None:
        return Seen(None, None)
    peer_address = _address(peer)
    if peer_address is None or not _trusted(peer_address, trusted):
        return Seen(None, None)
    xff = [part for value in headers.getall("X-Forwarded-For", ()) for part in value.split(",")
           if part.strip()]
    proto: str | None = None
    if xff:
        client = _client(peer_address, xff, trusted)
        protos = [p.strip().lower() for value in headers.getall("X-Forwarded-Proto", ())
                  for p in value.split(",") if p.strip()]
        proto = protos[-1] if protos else None
    else:
        elements = _forwarded_pairs(headers.getall("Forwarded", ()))
        if not elements:
            return Seen(None, None)
        fors = [e.get("for", "") for e in elements]
        client = _client(peer_address, fors, trusted)
        protos = [e["proto"].lower() for e in elements if "proto" in e]
        proto = protos[-1] if protos else None
    # The scheme the proxy nearest to us reports: it is the one we trust.
    scheme = proto if proto in ("http", "https") else None
    return Seen(None if client is None else str(client), scheme)
