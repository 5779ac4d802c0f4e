"""Analytics queries: three scans per report, each served by an index (sql/0004).

Every query takes the sites to count, a [start, end) range of aware datetimes and the
IANA zone whose local days and hours the figures are bucketed in.
"""

from __future__ import annotations

from datetime import datetime

from chatiq.store import db

# Per chat created in the range: when the team first answered (NULL: missed).
_CHATS = """
WITH cs AS (
    SELECT (c.created_at AT TIME ZONE %(tz)s)::date AS day, c.created_at, c.closed_at,
           (SELECT min(m.created_at) FROM messages m
             WHERE m.chat_id = c.id AND m.author_kind = 'operator') AS first_reply
      FROM chats c
     WHERE c.site_id = ANY(%(sites)s) AND c.created_at >= %(start)s AND c.created_at < %(end)s
)
SELECT day, count(*) AS chats, count(*) FILTER (WHERE first_reply IS NULL) AS missed,
       count(first_reply) AS answered,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_reply - created_at))
           AS frt_median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_reply - created_at))
           AS frt_p90,
       count(closed_at) AS resolved,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - created_at))
           AS resolution_median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - created_at))
           AS resolution_p90
  FROM cs GROUP BY ROLLUP (day) ORDER BY day NULLS LAST
"""

# Messages in the range by local hour and author kind; days and the heatmap are sums.
_MESSAGES = """
SELECT date_trunc('hour', m.created_at AT TIME ZONE %(tz)s) AS hour, m.author_kind AS kind,
       count(*) AS n
  FROM messages m JOIN chats c ON c.id = m.chat_id
 WHERE c.site_id = ANY(%(sites)s) AND m.created_at >= %(start)s AND m.created_at < %(end)s
 GROUP BY 1, 2
"""

_OPERATORS = """
SELECT m.author_id AS user_id, u.name, count(*) AS messages, count(DISTINCT m.chat_id) AS chats
  FROM messages m JOIN chats c ON c.id = m.chat_id LEFT JOIN users u ON u.id = m.author_id
 WHERE m.author_kind = 'operator' AND c.site_id = ANY(%(sites)s)
   AND m.created_at >= %(start)s AND m.created_at < %(end)s
 GROUP BY m.author_id, u.name ORDER BY chats DESC, messages DESC, m.author_id
"""


def _params(site_ids: list[int], start: datetime, end: datetime, tz: str) -> dict:
    return {"sites": list(site_ids), "start": start, "end": end, "tz": tz}


async def chat_figures(pool, site_ids, start, end, tz) -> list[dict]:
    """One row per local day with chats, then a total row with day NULL."""
    return await db.fetchall(pool, _CHATS, _params(site_ids, start, end, tz))


async def message_counts(pool, site_ids, start, end, tz) -> list[dict]:
    """(local hour, author kind, count) for every hour that had messages."""
    return await db.fetchall(pool, _MESSAGES, _params(site_ids, start, end, tz))


async def operator_figures(pool, site_ids, start, end, tz) -> list[dict]:
    return await db.fetchall(pool, _OPERATORS, _params(site_ids, start, end, tz))
