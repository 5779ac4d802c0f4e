"""Analytics figures against a known generated data set, recomputed independently in
Python from the raw rows; range validation; the CSV export."""

import csv
import io
import math
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from automation_helpers import auto, clock, owner_and_site  # noqa: F401

# 80 chats, 7 hours apart from 2026-03-01 UTC; chats 1-60 on the first site.
# Every 4th chat is never answered; the others get an operator reply 1-50 minutes in
# (two operators take turns), a visitor follow-up after an hour, every 3rd a bot line;
# every 5th chat was closed 1-7 hours after it started.
GENERATE = """
INSERT INTO users (org_id, email, name, role) VALUES
  (%(org)s, 'ann@example.com', 'Ann', 'OPERATOR'), (%(org)s, 'bob@example.com', 'Bob', 'OPERATOR');
INSERT INTO visitors (site_id, token_hash)
  SELECT CASE WHEN i <= 60 THEN %(s1)s ELSE %(s2)s END, decode(md5('v' || i), 'hex')
    FROM generate_series(1, 80) i;
INSERT INTO chats (site_id, visitor_id, status, created_at, closed_at)
  SELECT v.site_id, v.id, CASE WHEN i %% 5 = 0 THEN 'closed' ELSE 'open' END,
         '2026-03-01T00:00Z'::timestamptz + i * interval '7 hours' + (i %% 5) * interval '1 minute',
         CASE WHEN i %% 5 = 0 THEN '2026-03-01T00:00Z'::timestamptz + i * interval '7 hours'
              + (i %% 5) * interval '1 minute' + (i %% 7 + 1) * interval '1 hour' END
    FROM generate_series(1, 80) i JOIN visitors v ON v.token_hash = decode(md5('v' || i), 'hex');
INSERT INTO messages (chat_id, seq, author_kind, author_id, text, created_at)
  SELECT c.id, 1, 'visitor', c.visitor_id, 'hello', c.created_at FROM chats c;
INSERT INTO messages (chat_id, seq, author_kind, author_id, text, created_at)
  SELECT c.id, 2, 'operator',
         (SELECT id FROM users WHERE email = CASE WHEN c.id %% 2 = 1 THEN 'ann@example.com'
                                                  ELSE 'bob@example.com' END),
         'hi', c.created_at + ((c.id * 13) %% 50 + 1) * interval '1 minute'
    FROM chats c WHERE c.id %% 4 <> 0;
INSERT INTO messages (chat_id, seq, author_kind, author_id, text, created_at)
  SELECT c.id, 3, 'visitor', c.visitor_id, 'thanks', c.created_at + interval '60 minutes'
    FROM chats c;
INSERT INTO messages (chat_id, seq, author_kind, text, created_at)
  SELECT c.id, 4, 'bot', 'bye', c.created_at + interval '61 minutes' FROM chats c
   WHERE c.id %% 3 = 0;
"""


def percentile(values, q):
    """Linear interpolation between closest ranks (what percentile_cont does)."""
    values = sorted(values)
    if not values:
        return None
    pos = (len(values) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return values[low] + (values[high] - values[low]) * (pos - low)


@pytest.fixture
async def dataset(auto, sql):
    token, owner, site = await owner_and_site(auto)
    other = await auto.create_site(token, name="Other")
    ids = {"org": int(owner["organizationId"][2:]), "s1": int(site["id"][2:]),
           "s2": int(other["id"][2:])}
    sql(GENERATE, ids)
    return token, site, other, ids


def expected(sql, site_ids, first: date, last: date, tz: str) -> dict:
    """The report recomputed in Python from raw rows."""
    zone = ZoneInfo(tz)
    start = datetime.combine(first, datetime.min.time(), zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    chats = sql("SELECT id, created_at, closed_at FROM chats WHERE site_id = ANY(%s)",
                (site_ids,))
    messages = sql("SELECT m.chat_id, m.author_kind, m.author_id, m.created_at, u.name"
                   " FROM messages m JOIN chats c ON c.id = m.chat_id"
                   " LEFT JOIN users u ON u.id = m.author_id AND m.author_kind = 'operator'"
                   " WHERE c.site_id = ANY(%s)", (site_ids,))
    first_reply = {}
    for chat_id, kind, _, at, _ in messages:
        if kind == "operator" and (chat_id not in first_reply or at < first_reply[chat_id]):
            first_reply[chat_id] = at
    in_range = [c for c in chats if start <= c[1] < end]
    frt = [(first_reply[c[0]] - c[1]).total_seconds() for c in in_range if c[0] in first_reply]
    resolution = [(c[2] - c[1]).total_seconds() for c in in_range if c[2] is not None]
    per_day_chats = Counter(c[1].astimezone(zone).date() for c in in_range)
    per_day_missed = Counter(c[1].astimezone(zone).date() for c in in_range
                             if c[0] not in first_reply)
    msgs = [m for m in messages if start <= m[3] < end]
    per_day_msgs = Counter(m[3].astimezone(zone).date() for m in msgs)
    operators = defaultdict(lambda: [set(), 0])
    heat = [[0] * 24 for _ in range(7)]
    for chat_id, kind, author, at, name in msgs:
        if kind == "operator":
            operators[name][0].add(chat_id)
            operators[name][1] += 1
        if kind == "visitor":
            local = at.astimezone(zone)
            heat[local.weekday()][local.hour] += 1
    return {
        "chats": len(in_range), "missed": sum(1 for c in in_range if c[0] not in first_reply),
        "messages": len(msgs), "kinds": Counter(m[1] for m in msgs),
        "frt": (percentile(frt, 0.5), percentile(frt, 0.9), len(frt)),
        "resolution": (percentile(resolution, 0.5), percentile(resolution, 0.9),
                       len(resolution)),
        "per_day": {d: (per_day_chats[d], per_day_missed[d], per_day_msgs[d])
                    for d in set(per_day_chats) | set(per_day_msgs)},
        "operators": {name: (len(chats_), n) for name, (chats_, n) in operators.items()},
        "heat": heat,
    }


@pytest.mark.parametrize("query,tz,first,last,which", [
    ("from=2026-03-01&to=2026-03-31", "UTC", date(2026, 3, 1), date(2026, 3, 31), "both"),
    ("from=2026-03-05&to=2026-03-12", "UTC", date(2026, 3, 5), date(2026, 3, 12), "both"),
    ("from=2026-03-01&to=2026-03-31&tz=Europe/Kyiv", "Europe/Kyiv", date(2026, 3, 1),
     date(2026, 3, 31), "both"),
    ("from=2026-03-01&to=2026-03-31", "UTC", date(2026, 3, 1), date(2026, 3, 31), "s1"),
    ("from=2026-03-02&to=2026-03-20", "America/New_York", date(2026, 3, 2), date(2026, 3, 20),
     "s2"),
])
async def test_figures_match_independent_counts(auto, sql, dataset, query, tz, first, last,
                                                which):
    token, site, other, ids = dataset
    site_ids = {"both": [ids["s1"], ids["s2"]], "s1": [ids["s1"]], "s2": [ids["s2"]]}[which]
    if which != "both":
        query += "&siteId=" + (site if which == "s1" else other)["id"]
        if tz != "UTC":
            await auto.call("PUT", f"/api/v1/sites/{other['id']}/hours", token,
                            json={"enabled": False, "timezone": tz})
    code, report = await auto.call("GET", "/api/v1/analytics?" + query, token)
    assert code == 200, report
    want = expected(sql, site_ids, first, last, tz)
    assert report["timezone"] == tz
    assert report["totals"]["chats"] == want["chats"] > 0
    assert report["totals"]["missedChats"] == want["missed"]
    assert report["totals"]["messages"] == want["messages"]
    assert report["totals"]["visitorMessages"] == want["kinds"]["visitor"]
    assert report["totals"]["operatorMessages"] == want["kinds"]["operator"]
    assert report["totals"]["botMessages"] == want["kinds"]["bot"]
    assert report["firstResponse"]["medianSeconds"] == pytest.approx(want["frt"][0])
    assert report["firstResponse"]["p90Seconds"] == pytest.approx(want["frt"][1])
    assert report["firstResponse"]["count"] == want["frt"][2]
    assert report["resolution"]["medianSeconds"] == pytest.approx(want["resolution"][0])
    assert report["resolution"]["p90Seconds"] == pytest.approx(want["resolution"][1])
    assert report["resolution"]["count"] == want["resolution"][2]
    assert len(report["days"]) == (last - first).days + 1
    for day in report["days"]:
        got = (day["chats"], day["missedChats"], day["messages"])
        assert got == want["per_day"].get(date.fromisoformat(day["date"]), (0, 0, 0)), day
    assert {o["name"]: (o["chats"], o["messages"]) for o in report["operators"]} == \
        want["operators"]
    assert report["busiestHours"]["counts"] == want["heat"]
    # Independent SQL counts for the whole month, as a second opinion.
    if query == "from=2026-03-01&to=2026-03-31":
        assert report["totals"]["chats"] == sql("SELECT count(*) FROM chats")[0][0]
        assert report["totals"]["messages"] == sql("SELECT count(*) FROM messages")[0][0]
        assert report["totals"]["missedChats"] == sql(
            "SELECT count(*) FROM chats c WHERE NOT EXISTS (SELECT 1 FROM messages m"
            " WHERE m.chat_id = c.id AND m.author_kind = 'operator')")[0][0]


async def test_csv_export_matches_the_json(auto, dataset):
    token, *_ = dataset
    query = "/api/v1/analytics?from=2026-03-01&to=2026-03-31"
    _, report = await auto.call("GET", query, token)
    code, text = await auto.call("GET", query + "&format=csv", token)
    assert code == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["date"] for r in rows] == [d["date"] for d in report["days"]]
    assert [int(r["chats"]) for r in rows] == [d["chats"] for d in report["days"]]
    assert [int(r["missedChats"]) for r in rows] == [d["missedChats"] for d in report["days"]]
    code, text = await auto.call("GET", query + "&format=csv&table=operators", token)
    assert sorted(r["name"] for r in csv.DictReader(io.StringIO(text))) == ["Ann", "Bob"]
    code, text = await auto.call("GET", query + "&format=csv&table=hours", token)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "day" and len(rows) == 8 and len(rows[1]) == 25


async def test_an_empty_range_has_zeros_not_errors(auto):
    token, _, _ = await owner_and_site(auto)
    code, report = await auto.call("GET", "/api/v1/analytics?from=2020-01-01&to=2020-01-03",
                                   token)
    assert code == 200
    assert report["totals"]["chats"] == 0 and report["firstResponse"]["medianSeconds"] is None
    assert [d["chats"] for d in report["days"]] == [0, 0, 0]


@pytest.mark.parametrize("query,field", [
    ("from=2025-01-01&to=2026-01-02", "to"),     # more than a year
    ("from=2026-03-10&to=2026-03-01", "to"),
    ("from=yesterday", "from"),
    ("to=2026-13-01", "to"),
    ("tz=Mars/Base", "tz"),
    ("format=xml", "format"),
    ("format=csv&table=everything", "table"),
])
async def test_bad_ranges_are_invalid(auto, query, field):
    token, _, _ = await owner_and_site(auto)
    code, reply = await auto.call("GET", "/api/v1/analytics?" + query, token)
    assert code == 422 and reply["error"] == {**reply["error"], "code": "invalid", "field": field}


async def test_a_full_year_is_allowed(auto):
    token, _, _ = await owner_and_site(auto)
    code, report = await auto.call("GET", "/api/v1/analytics?from=2025-01-01&to=2025-12-31",
                                   token)
    assert code == 200 and len(report["days"]) == 365
