"""Business hours as pure functions: validate a schedule, and say for any instant
whether a site is open and when that next changes. No I/O; zoneinfo does the DST.

Rules (docs/automation.md):
- Times are "HH:MM" in the site's IANA timezone; an interval is [start, end).
  "24:00" is allowed as an end. An end earlier than its start is an overnight interval
  ("22:00"–"02:00" runs into the next day); an equal start and end is invalid.
- Intervals must not overlap within a day, nor with the previous day's overnight part.
- An exception replaces the intervals that start on its date ([] = closed all day); the
  previous day's overnight interval still runs into it.
- On a spring-forward day a time the clock skips moves forward by the jump (02:30 opens
  at 03:30); on a fall-back day a repeated time means its first occurrence.
- Hours disabled or not configured: always open, nextOpenAt null.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from chatiq.core.timezones import valid_timezone
from chatiq.core.protocol import iso

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INTERVALS_PER_DAY = 10
MAX_EXCEPTIONS = 400
# How far ahead nextOpenAt is looked for: a year of holidays plus slack.
HORIZON_DAYS = 400

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_DAY_MINUTES = 24 * 60


class HoursError(ValueError):
    """An invalid schedule; `field` names the offending part (e.g. `schedule.mon[1]`)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Interval:
    """Minutes from the local midnight of the day it starts on; end may pass 1440."""

    start: int
    end: int

    def as_pair(self) -> list[str]:
        return [_fmt(self.start), _fmt(self.end % _DAY_MINUTES if self.end > _DAY_MINUTES
                                       else self.end)]


@dataclass(frozen=True)
class Hours:
    enabled: bool = False
    timezone: str = "UTC"
    weekly: dict[str, tuple[Interval, ...]] = field(default_factory=dict)
    exceptions: dict[date, tuple[Interval, ...]] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "enabled": self.enabled,
            "timezone": self.timezone,
            "schedule": {d: [i.as_pair() for i in self.weekly.get(d, ())] for d in DAYS},
            "exceptions": [{"date": d.isoformat(), "intervals": [i.as_pair() for i in ivs]}
                           for d, ivs in sorted(self.exceptions.items())],
        }


@dataclass(frozen=True)
class Status:
    open: bool
    next_open_at: datetime | None   # when closed: the next opening (None: not within reach)
    changes_at: datetime | None     # the next instant `open` flips (None: never)

    def as_json(self) -> dict:
        return {"open": self.open, "nextOpenAt": iso(self.next_open_at)}


ALWAYS_OPEN = Hours()


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(value, name: str) -> int:
    if not isinstance(value, str) or not _TIME.match(value):
        raise HoursError(name, f"'{name}' must be a time like 09:00 (00:00-24:00)")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def parse_intervals(raw, name: str) -> tuple[Interval, ...]:
    """[["09:00","13:00"], ["22:00","02:00"]] → sorted Intervals, or HoursError."""
    if not isinstance(raw, list):
        raise HoursError(name, f"'{name}' must be a list of [start, end] pairs")
    if len(raw) > MAX_INTERVALS_PER_DAY:
        raise HoursError(name, f"'{name}' holds more than {MAX_INTERVALS_PER_DAY} intervals")
    out = []
    for i, pair in enumerate(raw):
        here = f"{name}[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise HoursError(here, f"'{here}' must be a [start, end] pair")
        start, end = _minutes(pair[0], here), _minutes(pair[1], here)
        if start == _DAY_MINUTES:
            raise HoursError(here, f"'{here}' cannot start at 24:00")
        if start == end:
            raise HoursError(here, f"'{here}' starts and ends at the same time")
        if end < start:  # overnight: ends on the next day
            end += _DAY_MINUTES
        out.append((Interval(start, end), here))
    out.sort(key=lambda item: item[0].start)
    for (a, _), (b, here) in zip(out, out[1:]):
        if b.start < a.end:
            raise HoursError(here, f"'{here}' overlaps another interval of the same day")
    return tuple(iv for iv, _ in out)


def _check_spill(previous: tuple[Interval, ...], today: tuple[Interval, ...], name: str) -> None:
    spill = max((iv.end - _DAY_MINUTES for iv in previous), default=0)
    if today and spill > today[0].start:
        raise HoursError(name, f"'{name}' overlaps the previous day's overnight interval")


def parse_hours(body: dict) -> Hours:
    """Validate the API's {enabled, timezone, schedule, exceptions} into Hours."""
    enabled = body.get("enabled", False)
    if not isinstance(enabled, bool):
        raise HoursError("enabled", "'enabled' must be true or false")
    tz = body.get("timezone", "UTC")
    if not valid_timezone(tz):
        raise HoursError("timezone", "'timezone' must be an IANA time zone like Europe/Kyiv")
    schedule = body.get("schedule") or {}
    if not isinstance(schedule, dict):
        raise HoursError("schedule", "'schedule' must be an object of weekdays (mon…sun)")
    for key in schedule:
        if key not in DAYS:
            raise HoursError(f"schedule.{key}", f"'schedule.{key}' is not a weekday (mon…sun)")
    weekly = {d: parse_intervals(schedule.get(d, []), f"schedule.{d}") for d in DAYS}
    for i, day in enumerate(DAYS):
        _check_spill(weekly[DAYS[i - 1]], weekly[day], f"schedule.{day}")
    raw_exceptions = body.get("exceptions") or []
    if not isinstance(raw_exceptions, list):
        raise HoursError("exceptions", "'exceptions' must be a list of {date, intervals}")
    if len(raw_exceptions) > MAX_EXCEPTIONS:
        raise HoursError("exceptions", f"'exceptions' holds more than {MAX_EXCEPTIONS} dates")
    exceptions: dict[date, tuple[Interval, ...]] = {}
    for i, item in enumerate(raw_exceptions):
        name = f"exceptions[{i}]"
        if not isinstance(item, dict):
            raise HoursError(name, f"'{name}' must be an object {{date, intervals}}")
        try:
            day = date.fromisoformat(item.get("date") or "")
        except (TypeError, ValueError):
            raise HoursError(f"{name}.date", f"'{name}.date' must be a date like 2026-12-25") \
                from None
        if day in exceptions:
            raise HoursError(f"{name}.date", f"'{name}.date' is listed twice")
        exceptions[day] = parse_intervals(item.get("intervals") or [], f"{name}.intervals")
    return Hours(enabled=enabled, timezone=tz, weekly={d: v for d, v in weekly.items() if v},
                 exceptions=exceptions)


def hours_from_row(row: dict | None) -> Hours:
    """Stored hours (trusted: they were validated on the way in) or ALWAYS_OPEN."""
    if row is None:
        return ALWAYS_OPEN
    try:
        return parse_hours({"enabled": row["enabled"], "timezone": row["timezone"],
                            "schedule": row["schedule"], "exceptions": row["exceptions"]})
    except HoursError:
        return ALWAYS_OPEN


# --- evaluation ------------------------------------------------------------------

def _local(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    day = day + timedelta(days=minutes // _DAY_MINUTES)
    minutes %= _DAY_MINUTES
    naive = datetime.combine(day, time(minutes // 60, minutes % 60))
    # fold=0: a skipped time shifts forward by the gap, a repeated one is its first pass.
    return naive.replace(tzinfo=tz).astimezone(timezone.utc)


def _day_intervals(hours: Hours, day: date) -> tuple[Interval, ...]:
    if day in hours.exceptions:
        return hours.exceptions[day]
    return hours.weekly.get(DAYS[day.weekday()], ())


def _open_spans(hours: Hours, first: date, last: date) -> list[tuple[datetime, datetime]]:
    """Opening spans in UTC that start on local days first..last, merged when they touch."""
    tz = ZoneInfo(hours.timezone)
    spans = []
    day = first
    while day <= last:
        for iv in _day_intervals(hours, day):
            start, end = _local(day, iv.start, tz), _local(day, iv.end, tz)
            if end > start:
                spans.append((start, end))
        day += timedelta(days=1)
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def status_at(hours: Hours, now: datetime) -> Status:
    """Open or closed at `now` (aware), the next opening, and the next flip."""
    if not hours.enabled:
        return Status(True, None, None)
    today = now.astimezone(ZoneInfo(hours.timezone)).date()
    for window in (14, HORIZON_DAYS):
        spans = _open_spans(hours, today - timedelta(days=1), today + timedelta(days=window))
        current = next((s for s in spans if s[0] <= now < s[1]), None)
        if current is not None and current is not spans[-1]:
            return Status(True, None, current[1])
        if current is None:
            upcoming = next((s for s in spans if s[0] > now), None)
            if upcoming is not None:
                return Status(False, upcoming[0], upcoming[0])
    # Open into the horizon (re-checked when it is reached), or never open again.
    if current is not None:
        return Status(True, None, current[1])
    return Status(False, None, None)
