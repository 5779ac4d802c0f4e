"""Bulk export (issue 10): chats of a date range as JSON Lines or CSV, streamed in keyset pages."""

from __future__ import annotations

import csv
import io
import json

import aiohttp
import pytest

from chatiq.privacy import export
from chatiq.core.protocol import parse_id
from privacy_helpers import Org, download

FORMULA = '=HYPERLINK("https://evil.example","click")'


@pytest.fixture
async def org(chat, client) -> Org:
    return await Org(chat, client.app).setup()


async def _fill(chat, org: Org) -> dict:
    """Three chats on the first site, one on a second; odd text and a file among them."""
    op = await chat.operator_ws(org.token)
    await chat.reply(op, org.chat_id, "Hello, \"friend\"\nsecond line; ümlaut ✓")
    await chat.say(org.visitor, FORMULA)
    await org.send_file(b"receipt\n", "receipt.txt")
    for i in range(2):
        visitor = await chat.visitor_ws(org.site["siteKey"])
        message = await chat.say(visitor, f"visitor {i} here")
        await chat.reply(op, message["chatId"], f"answer {i}")
    second = await chat.create_site(org.token, name="Second")
    visitor = await chat.visitor_ws(second["siteKey"])
    await chat.say(visitor, "on the second site")
    await op.close()
    return second


def _expected(sql, site_ids: list[int]) -> list[tuple]:
    """(chat id, seq, text) of every message in the sites, in the export's order."""
    return sql("SELECT 'c_' || c.id, m.seq, m.text FROM messages m JOIN chats c ON c.id = m.chat_id"
               " WHERE c.site_id = ANY(%s) ORDER BY c.site_id, c.created_at, c.id, m.seq",
               (site_ids,))


async def test_jsonl_export_is_complete_ordered_and_comes_in_pages(chat, org, client, sql,
                                                                   monkeypatch):
    second = await _fill(chat, org)
    other = await Org(chat, client.app).setup("Other")  # another tenant: never exported
    monkeypatch.setattr(export, "CHAT_PAGE", 2)
    monkeypatch.setattr(export, "MESSAGE_PAGE", 3)
    pages = []
    real_chats, real_messages = export.store.chat_page, export.store.message_page

    async def chat_page(*args):
        rows = await real_chats(*args)
        pages.append(("chats", len(rows)))
        return rows

    async def message_page(*args):
        rows = await real_messages(*args)
        pages.append(("messages", len(rows)))
        return rows

    monkeypatch.setattr(export.store, "chat_page", chat_page)
    monkeypatch.setattr(export.store, "message_page", message_page)

    status, headers, body = await download(chat, "/api/v1/export?format=jsonl", org.token)
    assert status == 200
    assert headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert headers["Content-Disposition"].startswith('attachment; filename="chatiq-export-')
    assert headers["Transfer-Encoding"] == "chunked"  # streamed, not built whole
    rows = [json.loads(line) for line in body.decode().splitlines()]
    site_ids = [parse_id("s", org.site["id"]), parse_id("s", second["id"])]
    assert [(r["chatId"], r["seq"], r["text"]) for r in rows] == _expected(sql, site_ids)
    assert len(rows) == 9 and other.chat_id not in {r["chatId"] for r in rows}
    assert all(n <= 3 for kind, n in pages if kind == "messages")
    assert all(n <= 2 for kind, n in pages if kind == "chats")
    assert len([p for p in pages if p[0] == "messages"]) >= 4
    first = rows[0]
    assert set(first) == set(export.COLUMNS)
    assert first["siteId"] == org.site["id"] and first["visitorId"] == org.visitor_id
    assert first["authorKind"] == "visitor" and first["text"] == "hello from Acme"
    reply = rows[1]
    assert reply["authorKind"] == "operator" and reply["authorName"] == "Olena"
    assert reply["authorId"] == org.user["id"]
    file_row = next(r for r in rows if r["attachmentName"])
    assert (file_row["attachmentName"], file_row["attachmentSize"]) == ("receipt.txt", 8)


async def test_csv_export_quotes_text_and_defuses_formulas(chat, org):
    await _fill(chat, org)
    status, headers, body = await download(
        chat, f"/api/v1/export?format=csv&siteId={org.site['id']}", org.token)
    assert status == 200 and headers["Content-Type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(body.decode(), newline="")))
    assert tuple(table[0]) == export.COLUMNS
    rows = [dict(zip(table[0], line)) for line in table[1:]]
    assert len(rows) == 8  # the second site's chat is not in this site's export
    texts = [r["text"] for r in rows]
    assert "Hello, \"friend\"\nsecond line; ümlaut ✓" in texts
    assert "'" + FORMULA in texts and FORMULA not in texts
    assert rows[0]["chatClosedAt"] == "" and rows[0]["seq"] == "1"


async def test_date_range_picks_chats_by_when_they_started(chat, org, sql):
    await _fill(chat, org)
    old_chat = parse_id("c", org.chat_id)
    sql("UPDATE chats SET created_at = '2026-01-10 23:30:00+00' WHERE id = %s", (old_chat,))
    status, _, body = await download(chat, "/api/v1/export", org.token)
    chats = {json.loads(line)["chatId"] for line in body.decode().splitlines()}
    assert status == 200 and org.chat_id not in chats and len(chats) == 3  # last 30 days
    status, _, body = await download(chat, "/api/v1/export?from=2026-01-10&to=2026-01-10",
                                     org.token)
    assert {json.loads(line)["chatId"] for line in body.decode().splitlines()} == {org.chat_id}
    # 23:30 UTC on the 10th is already the 11th in Kyiv.
    status, _, body = await download(
        chat, "/api/v1/export?from=2026-01-10&to=2026-01-10&tz=Europe/Kyiv", org.token)
    assert status == 200 and body == b""
    status, _, body = await download(
        chat, "/api/v1/export?from=2026-01-11&to=2026-01-11&tz=Europe/Kyiv", org.token)
    assert len(body.decode().splitlines()) == 4


async def test_thousands_of_messages_in_small_pages(chat, org, sql, monkeypatch):
    site_id = parse_id("s", org.site["id"])
    visitor_id = parse_id("v", org.visitor_id)
    sql("INSERT INTO chats (site_id, visitor_id, last_seq, created_at)"
        " SELECT %s, %s, 60, now() - make_interval(secs => g) FROM generate_series(1, 50) g",
        (site_id, visitor_id))
    sql("INSERT INTO messages (chat_id, seq, author_kind, author_id, text)"
        " SELECT c.id, s, 'visitor', %s, 'm' || c.id || '.' || s FROM chats c,"
        " generate_series(1, 60) s WHERE c.last_seq = 60", (visitor_id,))
    monkeypatch.setattr(export, "CHAT_PAGE", 7)
    monkeypatch.setattr(export, "MESSAGE_PAGE", 50)
    status, _, body = await download(chat, "/api/v1/export?format=csv", org.token)
    assert status == 200
    table = list(csv.reader(io.StringIO(body.decode(), newline="")))[1:]
    got = [(row[1], int(row[10]), row[14]) for row in table]
    assert got == _expected(sql, [site_id]) and len(got) == 3001


async def test_operators_export_only_their_sites(chat, org, client):
    second = await _fill(chat, org)
    token = await org.operator([second["id"]])
    status, _, body = await download(chat, "/api/v1/export", token)
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert status == 200 and {r["siteId"] for r in rows} == {second["id"]} and len(rows) == 1
    status, _, body = await download(chat, f"/api/v1/export?siteId={org.site['id']}", token)
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


@pytest.mark.parametrize("query, field", [
    ("format=xml", "format"), ("from=2026-13-01", "from"), ("to=yesterday", "to"),
    ("from=2026-03-02&to=2026-03-01", "to"), ("tz=Mars/Olympus", "tz"),
])
async def test_bad_parameters_are_refused_and_not_logged(chat, org, sql, query, field):
    status, _, body = await download(chat, "/api/v1/export?" + query, org.token)
    assert status == 422 and json.loads(body)["error"]["field"] == field
    assert sql("SELECT count(*) FROM audit_log WHERE action = 'data.exported'") == [(0,)]


async def test_export_refusals_for_strangers(chat, org, client, sql):
    other = await Org(chat, client.app).setup("Other")
    for query in (f"siteId={org.site['id']}", "siteId=s_x", "siteId=s_99999"):
        status, _, body = await download(chat, "/api/v1/export?" + query, other.token)
        assert status == 404, query
    status, _, _ = await download(chat, "/api/v1/export")
    assert status == 401
    status, _, _ = await download(chat, "/api/v1/export", "not-a-token")
    assert status == 401
    assert sql("SELECT count(*) FROM audit_log WHERE action = 'data.exported'") == [(0,)]


async def test_an_export_is_audited(chat, org, sql):
    status, _, _ = await download(
        chat, f"/api/v1/export?from=2026-01-01&to=2026-01-31&format=csv&siteId={org.site['id']}",
        org.token)
    assert status == 200
    rows = sql("SELECT actor_email, target, details FROM audit_log WHERE action = 'data.exported'")
    assert rows == [(org.user["email"], org.site["id"],
                     {"from": "2026-01-01", "to": "2026-01-31", "tz": "UTC", "format": "csv"})]


async def test_a_failure_half_way_cuts_the_download_short_visibly(chat, org, monkeypatch):
    """Headers are gone once streaming starts: a database failure then must not end the
    body cleanly, or a truncated export would look complete."""
    await _fill(chat, org)
    monkeypatch.setattr(export, "MESSAGE_PAGE", 2)
    real, calls = export.store.message_page, []

    async def failing(*args):
        calls.append(args)
        if len(calls) == 2:
            raise export.store.db.DatabaseUnavailable("connection lost")
        return await real(*args)

    monkeypatch.setattr(export.store, "message_page", failing)
    with pytest.raises(aiohttp.ClientPayloadError):
        await download(chat, "/api/v1/export", org.token)
    # The server is fine afterwards.
    monkeypatch.setattr(export.store, "message_page", real)
    status, _, body = await download(chat, "/api/v1/export", org.token)
    assert status == 200 and len(body.decode().splitlines()) == 9
