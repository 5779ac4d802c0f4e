"""GET /api/v1/analytics: the figures as JSON, or one of their tables as CSV.

`from`/`to` are local dates (inclusive) in the report's zone: `tz` if given, else the
site's business-hours zone when `siteId` names a site that has one, else UTC.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from chatiq.api.common import ApiError, pool, query_date, require_user
from chatiq.automation.hours import DAYS
from chatiq.core.timezones import valid_timezone
from chatiq.core.protocol import make_id, parse_id
from chatiq.store import analytics, sites
from chatiq.store import automation as automation_store
from chatiq.store.accounts import User

MAX_DAYS = 366
DEFAULT_DAYS = 30
TABLES = ("days", "operators", "hours")


@dataclass(frozen=True)
class Report:
    first: date
    last: date
    tz: str
    site_id: int | None
    site_ids: list[int]


async def build_report(db_pool, user: User, query: Mapping[str, str]) -> Report:
    """The report's range, zone and sites from the query string, or ApiError naming the
    parameter (also used by the panel, which signs its users in by cookie)."""
    site_id = None
    if query.get("siteId"):
        site = await sites.site_for(db_pool, user, parse_id("s", query["siteId"]))
        site_id, site_ids = site.id, [site.id]
    else:
        site_ids = [s.id for s in await sites.sites_for(db_pool, user)]
    tz = query.get("tz") or None
    if tz is not None and not valid_timezone(tz):
        raise ApiError("invalid", "'tz' must be an IANA time zone like Europe/Kyiv", field="tz")
    if tz is None and site_id is not None:
        row = await automation_store.hours_row(db_pool, site_id)
        tz = row["timezone"] if row and valid_timezone(row["timezone"]) else None
    tz = tz or "UTC"
    today = datetime.now(ZoneInfo(tz)).date()
    last = query_date(query, "to", today)
    first = query_date(query, "from", last - timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        raise ApiError("invalid", "'to' is before 'from'", field="to")
    if (last - first).days + 1 > MAX_DAYS:
        raise ApiError("invalid", f"the range may span at most {MAX_DAYS} days", field="to")
    return Report(first, last, tz, site_id, site_ids)


def _seconds(value) -> float | None:
    return None if value is None else round(float(value), 3)


async def figures(db_pool, report: Report) -> dict:
    zone = ZoneInfo(report.tz)
    start = datetime.combine(report.first, time(0), zone)
    end = datetime.combine(report.last + timedelta(days=1), time(0), zone)
    args = (db_pool, report.site_ids, start, end, report.tz)
    chat_rows = await analytics.chat_figures(*args)
    message_rows = await analytics.message_counts(*args)
    operator_rows = await analytics.operator_figures(*args)

    days = {}
    day = report.first
    while day <= report.last:
        days[day] = {"date": day.isoformat(), "chats": 0, "missedChats": 0,
                     "firstResponseMedianSeconds": None, "messages": 0, "visitorMessages": 0,
                     "operatorMessages": 0, "botMessages": 0}
        day += timedelta(days=1)
    total = chat_rows[-1]  # ROLLUP's grand total (day NULL) sorts last
    for row in chat_rows[:-1]:
        days[row["day"]].update(chats=row["chats"], missedChats=row["missed"],
                                firstResponseMedianSeconds=_seconds(row["frt_median"]))
    heat = [[0] * 24 for _ in DAYS]
    kinds = {"visitor": "visitorMessages", "operator": "operatorMessages", "bot": "botMessages"}
    for row in message_rows:
        entry = days[row["hour"].date()]
        entry["messages"] += row["n"]
        if row["kind"] in kinds:
            entry[kinds[row["kind"]]] += row["n"]
        if row["kind"] == "visitor":
            heat[row["hour"].weekday()][row["hour"].hour] += row["n"]
    day_list = list(days.values())
    return {
        "from": report.first.isoformat(), "to": report.last.isoformat(),
        "timezone": report.tz, "siteId": make_id("s", report.site_id),
        "totals": {"chats": total["chats"], "missedChats": total["missed"],
                   **{key: sum(d[key] for d in day_list)
                      for key in ("messages", "visitorMessages", "operatorMessages",
                                  "botMessages")}},
        "firstResponse": {"medianSeconds": _seconds(total["frt_median"]),
                          "p90Seconds": _seconds(total["frt_p90"]),
                          "count": total["answered"]},
        "resolution": {"medianSeconds": _seconds(total["resolution_median"]),
                       "p90Seconds": _seconds(total["resolution_p90"]),
                       "count": total["resolved"]},
        "days": day_list,
        "operators": [{"id": make_id("u", r["user_id"]), "name": r["name"],
                       "chats": r["chats"], "messages": r["messages"]} for r in operator_rows],
        # Visitor messages by local weekday (Monday first) and hour.
        "busiestHours": {"days": list(DAYS), "counts": heat,
                         "max": max(max(row) for row in heat)},
    }


def to_csv(data: dict, table: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if table == "days":
        keys = ["date", "chats", "missedChats", "messages", "visitorMessages",
                "operatorMessages", "botMessages", "firstResponseMedianSeconds"]
        writer.writerow(keys)
        for row in data["days"]:
            writer.writerow(["" if row[k] is None else row[k] for k in keys])
    elif table == "operators":
        writer.writerow(["operatorId", "name", "chats", "messages"])
        for row in data["operators"]:
            writer.writerow([row["id"], _cell(row["name"]), row["chats"], row["messages"]])
    else:
        writer.writerow(["day", *[f"{h:02d}" for h in range(24)]])
        for name, counts in zip(data["busiestHours"]["days"], data["busiestHours"]["counts"]):
            writer.writerow([name, *counts])
    return out.getvalue()


def _cell(text: str | None) -> str:
    """A spreadsheet must not run a name like "=HYPERLINK(…)" as a formula."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def get_analytics(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/analytics?from=&to=&siteId=&tz=&format=json|csv&table=days|operators|hours"""
    user = await require_user(request)
    report = await build_report(pool(request), user, request.query)
    fmt = request.query.get("format") or "json"
    if fmt not in ("json", "csv"):
        raise ApiError("invalid", "'format' must be json or csv", field="format")
    table = request.query.get("table") or "days"
    if table not in TABLES:
        raise ApiError("invalid", "'table' must be days, operators or hours", field="table")
    data = await figures(pool(request), report)
    if fmt == "json":
        return web.json_response(data)
    name = f"chatiq-{table}-{report.first.isoformat()}-{report.last.isoformat()}.csv"
    return web.Response(text=to_csv(data, table), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
