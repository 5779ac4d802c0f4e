"""Business-hours math: validation, open/closed at an instant, the next flip, DST."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatiq.automation.hours import DAYS, HoursError, parse_hours, status_at

WEEKDAYS_9_18 = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def hours(schedule=None, tz="UTC", exceptions=None, enabled=True):
    return parse_hours({"enabled": enabled, "timezone": tz, "schedule": schedule or {},
                        "exceptions": exceptions or []})


@pytest.mark.parametrize("body,field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": ""}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"schedule": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}}, "schedule.mon[1]"),
    ({"schedule": {"mon": [["09:00", "09:00"]]}}, "schedule.mon[0]"),
    ({"schedule": {"mon": [["9:00", "18:00"]]}}, "schedule.mon[0]"),
    ({"schedule": {"mon": [["09:00", "24:01"]]}}, "schedule.mon[0]"),
    ({"schedule": {"mon": [["24:00", "02:00"]]}}, "schedule.mon[0]"),
    ({"schedule": {"mon": [["09:00"]]}}, "schedule.mon[0]"),
    ({"schedule": {"mon": "09:00-18:00"}}, "schedule.mon"),
    ({"schedule": {"monday": [["09:00", "18:00"]]}}, "schedule.monday"),
    # Monday's overnight shift runs into Tuesday's first interval.
    ({"schedule": {"mon": [["22:00", "03:00"]], "tue": [["02:00", "06:00"]]}}, "schedule.tue"),
    # Sunday's overnight shift wraps into Monday.
    ({"schedule": {"sun": [["23:00", "01:00"]], "mon": [["00:30", "06:00"]]}}, "schedule.mon"),
    ({"exceptions": [{"date": "2026-02-30", "intervals": []}]}, "exceptions[0].date"),
    ({"exceptions": [{"date": "2026-12-25"}, {"date": "2026-12-25"}]}, "exceptions[1].date"),
    ({"exceptions": [{"date": "2026-12-24", "intervals": [["10:00", "08:00"], ["11:00", "12:00"]]}]},
     "exceptions[0].intervals[1]"),
    ({"exceptions": ["2026-12-25"]}, "exceptions[0]"),
])
def test_invalid_schedules_name_the_field(body, field):
    with pytest.raises(HoursError) as info:
        parse_hours({"enabled": True, "timezone": "UTC", **body})
    assert info.value.field == field


def test_reversed_interval_is_overnight_and_round_trips():
    h = hours({"fri": [["22:00", "02:00"]], "sat": [["10:00", "24:00"]]})
    assert h.as_json()["schedule"]["fri"] == [["22:00", "02:00"]]
    assert h.as_json()["schedule"]["sat"] == [["10:00", "24:00"]]
    assert status_at(h, utc(2026, 3, 28, 1, 59)).open           # Saturday 01:59, still Friday's
    s = status_at(h, utc(2026, 3, 28, 2, 0))
    assert not s.open and s.next_open_at == utc(2026, 3, 28, 10)


def test_disabled_is_always_open_and_empty_is_never_open():
    s = status_at(hours(WEEKDAYS_9_18, enabled=False), utc(2026, 3, 28, 3))
    assert (s.open, s.next_open_at, s.changes_at) == (True, None, None)
    s = status_at(hours({}), utc(2026, 3, 28, 3))
    assert (s.open, s.next_open_at, s.changes_at) == (False, None, None)


def test_touching_intervals_across_midnight_do_not_flip():
    h = hours({"sun": [["00:00", "24:00"]], "mon": [["00:00", "12:00"]]})
    s = status_at(h, utc(2026, 3, 29, 23))
    assert s.open and s.changes_at == utc(2026, 3, 30, 12)


def test_exceptions_close_a_holiday_and_open_a_saturday():
    h = hours(WEEKDAYS_9_18, exceptions=[{"date": "2026-12-25", "intervals": []},
                                         {"date": "2026-12-26", "intervals": [["10:00", "12:00"]]}])
    s = status_at(h, utc(2026, 12, 24, 18))
    assert not s.open and s.next_open_at == utc(2026, 12, 26, 10)
    assert status_at(h, utc(2026, 12, 26, 11)).open
    assert status_at(h, utc(2026, 12, 26, 12)).next_open_at == utc(2026, 12, 28, 9)


def test_previous_days_overnight_interval_runs_into_an_exception_date():
    h = hours({"thu": [["20:00", "02:00"]]}, exceptions=[{"date": "2026-12-25", "intervals": []}])
    assert status_at(h, utc(2026, 12, 25, 1)).open
    assert not status_at(h, utc(2026, 12, 25, 2)).open


# Kyiv: EET→EEST on 2026-03-29 at 03:00 local, back on 2026-10-25 at 04:00 local.
# New York: EST→EDT on 2026-03-08 at 02:00, back on 2026-11-01 at 02:00.
@pytest.mark.parametrize("tz,closed_at,opens_at", [
    ("Europe/Kyiv", utc(2026, 3, 27, 16), utc(2026, 3, 30, 6)),        # 18:00 EET → 09:00 EEST
    ("Europe/Kyiv", utc(2026, 10, 23, 15), utc(2026, 10, 26, 7)),      # 18:00 EEST → 09:00 EET
    ("America/New_York", utc(2026, 3, 6, 23), utc(2026, 3, 9, 13)),    # 18:00 EST → 09:00 EDT
    ("America/New_York", utc(2026, 10, 30, 22), utc(2026, 11, 2, 14)),  # 18:00 EDT → 09:00 EST
])
def test_weekend_across_a_dst_change(tz, closed_at, opens_at):
    h = hours(WEEKDAYS_9_18, tz=tz)
    before = status_at(h, closed_at - timedelta(microseconds=1))
    assert before.open and before.changes_at == closed_at
    after = status_at(h, closed_at)
    assert not after.open and after.next_open_at == opens_at == after.changes_at
    assert not status_at(h, opens_at - timedelta(seconds=1)).open
    assert status_at(h, opens_at).open


def test_intervals_on_the_transition_nights_keep_wall_clock_times():
    ny = "America/New_York"
    spring = hours({"sun": [["01:00", "05:00"]]}, tz=ny)
    s = status_at(spring, utc(2026, 3, 8, 6))                 # 01:00 EST
    assert s.open and s.changes_at == utc(2026, 3, 8, 9)      # 05:00 EDT: three hours later
    fall = hours({"sun": [["01:00", "05:00"]]}, tz=ny)
    s = status_at(fall, utc(2026, 11, 1, 5))                  # the first 01:00 (EDT)
    assert s.open and s.changes_at == utc(2026, 11, 1, 10)    # 05:00 EST: five hours later
    gap = hours({"sun": [["02:30", "04:00"]]}, tz=ny)         # 02:30 does not exist that night
    s = status_at(gap, utc(2026, 3, 8, 6))
    assert s.next_open_at == utc(2026, 3, 8, 7, 30)           # moves forward by the jump


def test_overnight_interval_over_kyiv_spring_forward():
    h = hours({"sat": [["22:00", "06:00"]]}, tz="Europe/Kyiv")
    s = status_at(h, utc(2026, 3, 28, 20))                    # Saturday 22:00 EET
    assert s.open and s.changes_at == utc(2026, 3, 29, 3)     # Sunday 06:00 EEST


_interval = st.tuples(st.integers(0, 47), st.integers(1, 48)).map(
    lambda p: (p[0] * 30, (p[0] * 30 + p[1] * 30)))


@st.composite
def schedules(draw):
    """Valid weekly schedules: sorted, non-overlapping half-hour intervals, some overnight."""
    out = {}
    for day in DAYS:
        points = sorted(draw(st.sets(st.integers(0, 47), max_size=6)))
        pairs = [points[i:i + 2] for i in range(0, len(points) - 1, 2)]
        out[day] = [[f"{a // 2:02d}:{a % 2 * 30:02d}", f"{b // 2:02d}:{b % 2 * 30:02d}"]
                    for a, b in pairs]
    return out


@settings(max_examples=150, deadline=None)
@given(schedule=schedules(), tz=st.sampled_from(["UTC", "Europe/Kyiv", "America/New_York"]),
       minutes=st.integers(0, 366 * 24 * 60))
def test_the_next_flip_is_a_real_flip(schedule, tz, minutes):
    h = hours(schedule, tz=tz)
    now = utc(2026, 1, 1) + timedelta(minutes=minutes)
    s = status_at(h, now)
    if s.changes_at is None:
        assert not s.open and s.next_open_at is None
        return
    assert s.changes_at > now
    assert status_at(h, s.changes_at - timedelta(microseconds=1)).open == s.open
    assert status_at(h, s.changes_at).open != s.open
    if not s.open:
        assert s.next_open_at == s.changes_at
