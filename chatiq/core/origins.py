"""Browser origins: parsing what sites allow and deciding whether a request may connect."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def normalize_origin(value: str) -> str | None:
    """'HTTPS://Shop.Example:443/' → 'https://shop.example'; None if it is not an origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    elif not _HOST.match(host):
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{host}{suffix}"


def origin_from_domain(domain: str) -> str | None:
    """The https origin a site's domain stands for ('shop.example' → 'https://shop.example')."""
    domain = domain.strip()
    if "://" not in domain:
        domain = "https://" + domain
    return normalize_origin(domain.rstrip("/"))


def origins_from_domain(domain: str) -> list[str]:
    """The origins a new site's domain seeds: the https origin and its "www." twin
    ('shop.example' → https://shop.example and https://www.shop.example; 'www.shop.example'
    → the same two, www first), since shops answer on both and a widget on the other one
    was refused without a word."""
    origin = origin_from_domain(domain)
    if origin is None:
        return []
    host = origin.removeprefix("https://")
    bare = host.removeprefix("www.")
    name = urlsplit(origin).hostname or ""
    # An IP address or a one-label name (localhost) has no www twin worth guessing.
    if "." not in bare.split(":")[0] or name.replace(".", "").isdigit() or ":" in name:
        return [origin]
    other = normalize_origin("https://" + (bare if host.startswith("www.") else "www." + host))
    return [origin] + ([other] if other else [])


def origin_allowed(origin: str | None, allowed: list[str], own_host: str | None) -> bool:
    """May a page at `origin` use a site that allows `allowed`?

    No Origin header: not a browser, nothing to enforce. The server's own pages
    (the demo, the panel) are always allowed. An empty list allows every origin,
    so a new site works before its owner lists its domains.
    """
    if origin is None:
        return True
    normalized = normalize_origin(origin)
    if normalized is None:
        return False
    if own_host and urlsplit(normalized).netloc == own_host.lower():
        return True
    return not allowed or normalized in allowed
