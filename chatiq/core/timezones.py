"""IANA time zone names as clients send them (business hours, analytics, exports)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_ZONES: frozenset[str] | None = None


def valid_timezone(name) -> bool:
    global _ZONES
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    if name in _ZONES or name == "UTC":
        return True
    try:  # a system database newer than available_timezones() saw
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name
