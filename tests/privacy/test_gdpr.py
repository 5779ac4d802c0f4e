"""One visitor's data (issue 9, GDPR access and erasure): OWNER only, API and panel."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path

import aiohttp
import pytest

from chatiq import keys
from chatiq.privacy import gdpr
from chatiq.core.protocol import CLOSE_VISITOR_ERASED
from conftest import LiveServer
from privacy_helpers import Org, download

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel"))

from panel_helpers import browsers  # noqa: E402,F401

SHARED = b"the same bytes in two chats\n"


@pytest.fixture
async def org(chat, client) -> Org:
    return await Org(chat, client.app).setup()


async def _close_code(ws, timeout: float = 10.0) -> int | None:
    """Skip the frames still queued; the close code the server ended with."""
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return msg.data if msg.type == aiohttp.WSMsgType.CLOSE else None


def _blobs(config) -> set[str]:
    root = config.data_dir / "files"
    return {p.name for p in root.rglob("*") if p.is_file() and ".incoming" not in p.parts}


async def test_owner_exports_everything_about_a_visitor(chat, org, sql, monkeypatch):
    monkeypatch.setattr(gdpr, "PAGE", 2)  # several pages per chat
    op = await chat.operator_ws(org.token)
    await chat.reply(op, org.chat_id, "Hi there")
    for i in range(4):
        await chat.say(org.visitor, f"note {i}")
    await org.send_file(b"invoice\n", "invoice.txt")
    await org.upload(b"never sent\n", "draft.txt")
    await org.visitor.send_json({"type": "visitor:page", "data": {
        "pageUrl": "https://shop.example/cart", "pageTitle": "Cart"}})
    await chat.say(org.visitor, "last")
    sql("UPDATE visitors SET name = 'Taras', email = 'taras@example.com'")

    status, headers, body = await download(
        chat, f"/api/v1/visitors/{org.visitor_id}/export", org.token)
    assert status == 200
    assert headers["Content-Disposition"] == (
        f'attachment; filename="chatiq-visitor-{org.visitor_id}.json"')
    data = json.loads(body)
    v = data["visitor"]
    assert (v["id"], v["name"], v["email"], v["siteName"]) == (
        org.visitor_id, "Taras", "taras@example.com", "Acme shop")
    assert v["pageUrl"] == "https://shop.example/cart" and v["ip"] and v["userAgent"]
    [exported_chat] = data["chats"]
    assert exported_chat["id"] == org.chat_id
    texts = [m["text"] for m in exported_chat["messages"]]
    assert texts == ["hello from Acme", "Hi there", "note 0", "note 1", "note 2", "note 3", "",
                     "last"]
    assert [m["seq"] for m in exported_chat["messages"]] == list(range(1, 9))
    files = {f["name"]: f for f in data["attachments"]}
    assert set(files) == {"invoice.txt", "draft.txt"}
    assert files["invoice.txt"]["sent"] and not files["draft.txt"]["sent"]
    assert files["invoice.txt"]["chatId"] == org.chat_id and files["draft.txt"]["chatId"] is None
    assert data["exportedAt"].endswith("Z")
    assert sql("SELECT action, target FROM audit_log WHERE action LIKE 'visitor.%%'") == [
        ("visitor.exported", org.visitor_id)]
    await op.close()


async def test_erasing_a_visitor_takes_their_data_and_files_but_nobody_elses(
        chat, org, sql, config):
    mine = await org.send_file(b"only mine\n", "mine.txt")
    await org.send_file(SHARED, "shared.txt")
    await org.upload(b"unsent draft\n", "draft.txt")
    op = await chat.operator_ws(org.token)
    await chat.reply(op, org.chat_id, "answer")
    neighbour = await chat.visitor_ws(org.site["siteKey"])
    kept = await chat.say(neighbour, "I stay")
    await org.send_file(SHARED, "shared-too.txt", visitor=neighbour)
    shared_sha = hashlib.sha256(SHARED).hexdigest()
    mine_sha = hashlib.sha256(b"only mine\n").hexdigest()
    assert {shared_sha, mine_sha} <= _blobs(config)
    visitor_number = int(org.visitor_id[2:])

    status, body = await chat.call("DELETE", f"/api/v1/visitors/{org.visitor_id}", org.token)
    assert status == 200
    assert body == {"erased": {"visitorId": org.visitor_id, "chats": 1, "messages": 4,
                               "attachments": 3}}
    # Their widget is told to go (4410) and their token no longer names anyone.
    assert await _close_code(org.visitor) == CLOSE_VISITOR_ERASED
    again = await chat.visitor_ws(org.site["siteKey"],
                                  visitorToken=org.visitor.session["visitorToken"])
    assert again.session["visitorId"] != org.visitor_id and again.session["history"] == []

    assert sql("SELECT count(*) FROM visitors WHERE id = %s", (visitor_number,)) == [(0,)]
    assert sql("SELECT count(*) FROM chats WHERE visitor_id = %s", (visitor_number,)) == [(0,)]
    assert sql("SELECT count(*) FROM attachments WHERE uploader_kind = 'visitor'"
               " AND uploader_id = %s", (visitor_number,)) == [(0,)]
    assert sql("SELECT count(*) FROM messages WHERE chat_id = %s",
               (int(org.chat_id[2:]),)) == [(0,)]
    blobs = _blobs(config)
    assert mine_sha not in blobs and shared_sha in blobs  # the neighbour still uses it
    status, _, _ = await download(chat, mine["attachment"]["url"], org.token)
    assert status == 404
    # The neighbour's chat, messages and file are untouched.
    status, body = await chat.call("GET", f"/api/v1/chats/{kept['chatId']}/messages", org.token)
    assert status == 200 and [m["text"] for m in body["messages"]] == ["I stay", ""]
    status, _, data = await download(chat, body["messages"][1]["attachment"]["url"], org.token)
    assert status == 200 and data == SHARED
    [(details,)] = sql("SELECT details FROM audit_log WHERE action = 'visitor.erased'")
    assert details == {"chats": 1, "messages": 4, "attachments": 3}
    # Gone is gone: a second erase or export finds nothing.
    status, _ = await chat.call("DELETE", f"/api/v1/visitors/{org.visitor_id}", org.token)
    assert status == 404
    status, _, _ = await download(chat, f"/api/v1/visitors/{org.visitor_id}/export", org.token)
    assert status == 404
    await op.close()


async def test_only_owners_of_the_visitors_organization(chat, org, client, sql):
    other = await Org(chat, client.app).setup("Other")
    operator = await org.operator([org.site["id"]])
    before = sql("SELECT count(*) FROM visitors"), sql("SELECT count(*) FROM messages")
    for token, expected in ((other.token, 404), (operator, 403), (None, 401),
                            ("forged.token.value", 401)):
        status, body = await chat.call("DELETE", f"/api/v1/visitors/{org.visitor_id}", token)
        assert status == expected, (token, body)
        status, _, _ = await download(chat, f"/api/v1/visitors/{org.visitor_id}/export", token)
        assert status == expected
    for bad in ("v_x", "v_0", "c_1", "v_" + "1" * 40, "v_99999999"):
        status, body = await chat.call("DELETE", f"/api/v1/visitors/{bad}", org.token)
        assert status == 404 and body["error"]["code"] == "not_found", bad
    assert (sql("SELECT count(*) FROM visitors"), sql("SELECT count(*) FROM messages")) == before
    assert sql("SELECT count(*) FROM audit_log WHERE action LIKE 'visitor.%%'") == [(0,)]
    # The other organization's own visitor is theirs to erase.
    status, _ = await chat.call("DELETE", f"/api/v1/visitors/{other.visitor_id}", other.token)
    assert status == 200


async def test_erasure_closes_the_visitors_widget_on_another_process(config, sql,
                                                                     unused_tcp_port_factory):
    async with aiohttp.ClientSession() as session:
        a = LiveServer(config, session, unused_tcp_port_factory())
        b = LiveServer(config, session, unused_tcp_port_factory())
        await a.start()
        await b.start()
        try:
            for server in (a, b):
                await asyncio.wait_for(server.runner.app[keys.BUS].connected.wait(), 10)
            token, _ = await a.register()
            site = await a.create_site(token)
            on_b = await b.visitor_ws(site["siteKey"])
            await b.say(on_b, "hello")
            status, _ = await a.call("DELETE", f"/api/v1/visitors/{on_b.session['visitorId']}",
                                     token)
            assert status == 200
            assert await _close_code(on_b) == CLOSE_VISITOR_ERASED
        finally:
            await a.stop()
            await b.stop()


async def test_panel_visitor_page_export_and_erase(chat, org, browsers, sql):
    await chat.say(org.visitor, "<b>bold?</b>")
    owner = browsers()
    await owner.login(org.user["email"])
    resp, page = await owner.get(f"/admin/chats/{org.chat_id}")
    assert f'href="/admin/visitors/{org.visitor_id}"' in page
    resp, page = await owner.get(f"/admin/visitors/{org.visitor_id}")
    assert resp.status == 200 and "Acme shop" in page and org.chat_id in page
    assert f'href="/admin/visitors/{org.visitor_id}/export"' in page
    resp, body = await owner.get(f"/admin/visitors/{org.visitor_id}/export")
    assert resp.status == 200 and resp.headers["Content-Disposition"].startswith("attachment;")
    messages = json.loads(body)["chats"][0]["messages"]
    assert [m["text"] for m in messages] == ["hello from Acme", "<b>bold?</b>"]

    # Not without the box ticked, not without the CSRF token.
    resp, page = await owner.post(f"/admin/visitors/{org.visitor_id}/erase", {})
    assert resp.status == 422 and 'data-field="confirm"' in page
    resp, _ = await owner.post(f"/admin/visitors/{org.visitor_id}/erase", {"confirm": "on"},
                               csrf="forged")
    assert resp.status == 403
    assert sql("SELECT count(*) FROM visitors") == [(1,)]

    resp, _ = await owner.post(f"/admin/visitors/{org.visitor_id}/erase", {"confirm": "on"})
    assert resp.status == 302 and resp.headers["Location"] == "/admin/audit"
    assert sql("SELECT count(*) FROM visitors") == [(0,)]
    resp, page = await owner.get("/admin/audit")
    assert "The visitor&#39;s data was erased." in page or "The visitor's data was erased." in page
    assert 'data-action="visitor.erased"' in page
    resp, _ = await owner.get(f"/admin/visitors/{org.visitor_id}")
    assert resp.status == 404


async def test_panel_visitor_pages_are_for_the_owners_of_that_organization(chat, org, browsers,
                                                                            client, sql):
    other = await Org(chat, client.app).setup("Other")
    stranger = browsers()
    await stranger.login(other.user["email"])
    for path in (f"/admin/visitors/{org.visitor_id}", f"/admin/visitors/{org.visitor_id}/export"):
        resp, _ = await stranger.get(path)
        assert resp.status == 404, path
    resp, _ = await stranger.post(f"/admin/visitors/{org.visitor_id}/erase", {"confirm": "on"})
    assert resp.status == 404
    await org.operator([org.site["id"]], email="op@example.com")
    operator = browsers()
    resp, _ = await operator.login("op@example.com", "operator pass 1")
    resp, page = await operator.get(f"/admin/chats/{org.chat_id}")
    assert resp.status == 200 and "/admin/visitors/" not in page
    resp, _ = await operator.get(f"/admin/visitors/{org.visitor_id}")
    assert resp.status == 403
    resp, _ = await operator.post(f"/admin/visitors/{org.visitor_id}/erase", {"confirm": "on"})
    assert resp.status == 403
    assert sql("SELECT count(*) FROM visitors") == [(2,)]
