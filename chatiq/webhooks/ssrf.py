"""Where webhooks may point: http(s) URLs whose host is a public address (SSRF guard).

Checked when an endpoint is saved, and again at every delivery by the resolver the
sender's connector uses, so the addresses checked are the ones connected to: a name
that answered a public address at save time and a private one later (DNS rebinding) is
refused. `Config.webhooks_allow_private` turns the address checks off (tests, intranets).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

MAX_URL_LENGTH = 2000
# Saving waits this long for DNS; a name that does not resolve yet is accepted (the
# receiver may not be deployed) and checked again at delivery.
SAVE_RESOLVE_SECONDS = 3.0
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Legacy numeric IPv4 spellings ("2130706433", "127.1", "0x7f.1") that the C resolver maps
# onto addresses: refused outright, so no check reads them differently from a connect.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.IGNORECASE)


class UrlRefused(ValueError):
    """A webhook URL that may not be used; the message says why, for the owner."""


class AddressRefused(OSError):
    """Raised by the resolver: the name resolves to an address webhooks may not reach.
    An OSError, so aiohttp reports it as a connection error naming this one."""


def public_address(text: str) -> bool:
    """True for an address on the public internet: not loopback, private, link-local
    (cloud metadata), multicast, reserved, shared (CGNAT) or unspecified."""
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if addr.version == 6:
        if addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        elif addr in _NAT64:
            addr = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr.is_global and not (addr.is_multicast or addr.is_reserved or addr.is_loopback
                                   or addr.is_link_local or addr.is_private
                                   or addr.is_unspecified)


def _literal(host: str) -> str | None:
    """The host as an IP address when it is one ("[::1]" → "::1"), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def parse_url(text: str, *, allow_private: bool) -> URL:
    """The URL, or UrlRefused: http(s) only, a host, no credentials or fragment, and
    (unless private targets are allowed) not an IP literal outside the public internet."""
    if len(text) > MAX_URL_LENGTH:
        raise UrlRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise UrlRefused("the URL must not contain spaces or control characters")
    try:
        url = URL(text)
        host, port = url.raw_host, url.port
    except (ValueError, TypeError):
        raise UrlRefused("not a valid URL") from None
    if url.scheme not in ("http", "https"):
        raise UrlRefused("only http:// and https:// URLs can receive webhooks")
    if not host or port is None:
        raise UrlRefused("the URL needs a host name")
    if url.raw_user is not None or url.raw_password is not None:
        raise UrlRefused("the URL must not contain a user name or password")
    if url.raw_fragment:
        raise UrlRefused("the URL must not contain a #fragment")
    literal = _literal(host)
    if literal is None and _NUMERIC_HOST.match(host):
        raise UrlRefused("write an IP address in the usual dotted form")
    if literal is not None and not allow_private and not public_address(literal):
        raise UrlRefused("the URL points to a private, loopback or reserved address")
    return url


async def check_url(text: str, *, allow_private: bool) -> str:
    """`parse_url`, then (unless allowed) the host's current addresses must all be
    public. Returns the URL as it will be stored."""
    url = parse_url(text, allow_private=allow_private)
    if not allow_private and _literal(url.raw_host) is None:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(url.raw_host, url.port, type=socket.SOCK_STREAM),
                SAVE_RESOLVE_SECONDS)
        except (OSError, asyncio.TimeoutError, UnicodeError):
            infos = []  # not resolvable now: the delivery-time check decides
        if any(not public_address(info[4][0]) for info in infos):
            raise UrlRefused("the URL's host resolves to a private, loopback or reserved address")
    return text


class GuardedResolver(AbstractResolver):
    """The default resolver, refusing every name with a non-public address among its
    answers. IP literals never reach a resolver: the sender checks those itself."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for result in found:
            if not public_address(result["host"]):
                raise AddressRefused(f"{host} resolves to a non-public address"
                                     f" ({result['host']}); private targets are not allowed")
        return found

    async def close(self) -> None:
        await self._inner.close()
