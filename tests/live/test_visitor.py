"""/ws/widget against a real database: every visitor frame, its errors and close codes."""

import asyncio
import json
import uuid

import pytest
from aiohttp import WSMsgType

from conftest import recv, recv_until, request


@pytest.fixture
async def site(chat):
    token, _ = await chat.register()
    site = await chat.create_site(token, domain="shop.example")
    site["ownerToken"] = token
    return site


async def test_first_join_creates_a_visitor_with_a_strong_token(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"], pageUrl="https://shop.example/p", language="uk")
    s = v.session
    assert s["visitorId"].startswith("v_") and s["chatId"] is None
    assert len(s["visitorToken"]) >= 22  # ≥ 128 bits, URL-safe base64
    assert s["history"] == [] and s["business"]["open"] is True
    assert s["settings"]["position"] == "right"
    # Only a hash of the token is stored.
    rows = sql("SELECT token_hash, page_url, language FROM visitors")
    assert len(rows) == 1 and s["visitorToken"].encode() not in bytes(rows[0][0])
    assert rows[0][1:] == ("https://shop.example/p", "uk")


async def test_rejoin_with_token_is_the_same_visitor(chat, site):
    v1 = await chat.visitor_ws(site["siteKey"])
    await chat.say(v1, "first")
    await v1.close()
    v2 = await chat.visitor_ws(site["siteKey"], visitorToken=v1.session["visitorToken"])
    assert v2.session["visitorId"] == v1.session["visitorId"]
    assert [m["text"] for m in v2.session["history"]] == ["first"]
    assert v2.session["chatId"] is not None


async def test_unknown_token_makes_a_new_visitor(chat, site):
    v = await chat.visitor_ws(site["siteKey"], visitorToken="forged-token-value")
    assert v.session["visitorToken"] != "forged-token-value"


async def test_token_of_another_site_does_not_carry_over(chat, site):
    other = await chat.create_site(site["ownerToken"], name="Other")
    v1 = await chat.visitor_ws(site["siteKey"])
    await chat.say(v1, "secret")
    v2 = await chat.visitor_ws(other["siteKey"], visitorToken=v1.session["visitorToken"])
    assert v2.session["visitorId"] != v1.session["visitorId"] and v2.session["history"] == []


@pytest.mark.parametrize("key", ["nope", "", "x" * 150])
async def test_unknown_site_key_closes_4003(chat, key):
    ws = await chat.session.ws_connect(chat.base + "/ws/widget")
    await ws.send_json({"type": "visitor:join", "data": {"siteKey": key}})
    msg = await ws.receive(timeout=5)
    if key == "":  # an empty key is just unknown
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert ws.close_code == 4003 or msg.data == 4003


async def test_disabled_site_closes_4003(chat, site):
    status, _ = await chat.call("PATCH", f"/api/v1/sites/{site['id']}", site["ownerToken"],
                                json={"enabled": False})
    assert status == 200
    ws = await chat.session.ws_connect(chat.base + "/ws/widget")
    await ws.send_json({"type": "visitor:join", "data": {"siteKey": site["siteKey"]}})
    await ws.receive(timeout=5)
    assert ws.close_code == 4003


async def test_foreign_origin_closes_4003_and_listed_origin_joins(chat, site):
    ws = await chat.session.ws_connect(chat.base + "/ws/widget",
                                       headers={"Origin": "https://evil.example"})
    await ws.send_json({"type": "visitor:join", "data": {"siteKey": site["siteKey"]}})
    await ws.receive(timeout=5)
    assert ws.close_code == 4003
    ok = await chat.session.ws_connect(chat.base + "/ws/widget",
                                       headers={"Origin": "https://shop.example"})
    await ok.send_json({"type": "visitor:join", "data": {"siteKey": site["siteKey"]}})
    assert (await recv_until(ok, "session"))["data"]["visitorId"]


async def test_frames_before_join_are_not_joined(chat):
    ws = await chat.session.ws_connect(chat.base + "/ws/widget")
    for ftype, data in [("visitor:message", {"clientId": "a", "text": "hi"}),
                        ("visitor:typing", {"typing": True}), ("visitor:read", {"seq": 1}),
                        ("visitor:page", {"pageUrl": "https://x.example"}),
                        ("message:react", {"messageId": "m_1", "emoji": "👍"})]:
        reply = await request(ws, ftype, data)
        assert reply["type"] == "error" and reply["data"]["code"] == "not_joined", ftype


async def test_bad_frames_get_errors_and_the_connection_survives(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"])
    await v.send_str("{not json")
    assert (await recv(v))["data"]["code"] == "bad_json"
    await v.send_str("[1,2]")
    assert (await recv(v))["data"]["code"] == "bad_frame"
    await v.send_bytes(b"\x00\x01")
    assert (await recv(v))["data"]["code"] == "bad_frame"
    await v.send_json({"type": "visitor:fly", "ref": "u1"})
    reply = await recv(v)
    assert reply == {"type": "error", "ref": "u1", "data": reply["data"]}
    assert reply["data"]["code"] == "unknown_type"
    await v.send_json({"type": "visitor:message", "ref": "w1",
                       "data": {"clientId": 7, "text": "x"}})
    reply = await recv(v)
    assert (reply["ref"], reply["data"]["code"], reply["data"]["field"]) == ("w1", "bad_frame", "clientId")
    for data, code in [({"clientId": "e", "text": "   "}, "invalid"),
                       ({"clientId": "e"}, "invalid"),
                       ({"clientId": "t", "text": "x" * 10_001}, "too_large"),
                       ({"clientId": "a", "text": "x", "attachmentId": "nope"}, "not_found")]:
        reply = await request(v, "visitor:message", data)
        assert reply["type"] == "error" and reply["data"]["code"] == code, data
    assert sql("SELECT count(*) FROM messages")[0][0] == 0
    assert sql("SELECT count(*) FROM chats")[0][0] == 0
    # Still alive and useful.
    assert (await chat.say(v, "after all that"))["seq"] == 1


async def test_oversize_frame_closes_1009(chat, site):
    v = await chat.visitor_ws(site["siteKey"])
    await v.send_str(json.dumps({"type": "ping", "data": {"pad": "x" * 70_000}}))
    msg = await v.receive(timeout=5)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    assert v.close_code == 1009


async def test_message_is_acked_with_the_stored_object(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"])
    cid = str(uuid.uuid4())
    m = await chat.say(v, "Привіт <b>", client_id=cid)
    assert m["seq"] == 1 and m["clientId"] == cid and m["text"] == "Привіт <b>"
    assert m["author"]["kind"] == "visitor" and m["author"]["id"] == v.session["visitorId"]
    assert m["createdAt"].endswith("Z") and m["readAt"] is None and m["reactions"] == {}
    assert sql("SELECT seq, text FROM messages") == [(1, "Привіт <b>")]


async def test_same_client_id_is_stored_once(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"])
    first = await chat.say(v, "once", client_id="dup-1")
    again = await chat.say(v, "once (resent)", client_id="dup-1")
    assert again == first
    assert sql("SELECT count(*) FROM messages")[0][0] == 1


async def test_concurrent_duplicates_store_once_and_leave_no_seq_gap(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"])
    await chat.say(v, "zero")
    tabs = [await chat.visitor_ws(site["siteKey"], visitorToken=v.session["visitorToken"])
            for _ in range(4)]
    replies = await asyncio.gather(*[
        request(t, "visitor:message", {"clientId": "race", "text": "same"}) for t in tabs])
    ids = {r["data"]["message"]["id"] for r in replies}
    assert len(ids) == 1
    assert sql("SELECT seq FROM messages ORDER BY seq") == [(1,), (2,)]
    assert (await chat.say(v, "next"))["seq"] == 3


async def test_same_client_id_from_another_visitor_is_a_new_message(chat, site, sql):
    a = await chat.visitor_ws(site["siteKey"])
    b = await chat.visitor_ws(site["siteKey"])
    await chat.say(a, "a", client_id="shared")
    await chat.say(b, "b", client_id="shared")
    assert sql("SELECT count(*) FROM messages")[0][0] == 2


async def test_resume_with_last_seq_gets_exactly_what_was_missed(chat, site):
    token = site["ownerToken"]
    v = await chat.visitor_ws(site["siteKey"])
    first = await chat.say(v, "m1")
    op = await chat.operator_ws(token)
    await v.close()
    for i in range(5):
        await chat.reply(op, first["chatId"], f"r{i}")
    v2 = await chat.visitor_ws(site["siteKey"], visitorToken=v.session["visitorToken"], lastSeq=3)
    assert [m["seq"] for m in v2.session["history"]] == [4, 5, 6]
    assert [m["text"] for m in v2.session["history"]] == ["r2", "r3", "r4"]
    v3 = await chat.visitor_ws(site["siteKey"], visitorToken=v.session["visitorToken"], lastSeq=6)
    assert v3.session["history"] == []


async def test_a_reply_stored_while_a_visitor_joins_is_not_lost(chat, site, monkeypatch):
    """Regression (found by the kill -9 harness): the join read the history, then awaited
    more lookups, and only then put the visitor in the room, so a reply stored in between
    was in neither the history nor the live stream until the next reconnect."""
    from chatiq.store import sites as site_store

    token = site["ownerToken"]
    v = await chat.visitor_ws(site["siteKey"])
    first = await chat.say(v, "m1")
    op = await chat.operator_ws(token)
    await v.close()

    real = site_store.widget_settings
    paused, release = asyncio.Event(), asyncio.Event()

    async def slow_settings(pool, site_id):  # the join's last lookup: hold it there
        paused.set()
        await release.wait()
        return await real(pool, site_id)

    monkeypatch.setattr(site_store, "widget_settings", slow_settings)
    v2 = await chat.session.ws_connect(chat.base + "/ws/widget")
    await v2.send_json({"type": "visitor:join", "data": {
        "siteKey": site["siteKey"], "visitorToken": v.session["visitorToken"], "lastSeq": 1}})
    await asyncio.wait_for(paused.wait(), 5)
    reply = await chat.reply(op, first["chatId"], "stored mid-join")
    release.set()
    seen = set()  # live frames may come before the session: every one counts
    while True:
        frame = await recv(v2)
        if frame["type"] == "admin:message":
            seen.add(frame["data"]["message"]["id"])
        elif frame["type"] == "session":
            seen |= {m["id"] for m in frame["data"]["history"]}
            break
    if reply["id"] not in seen:
        got = await recv_until(v2, "admin:message", timeout=2)
        seen.add(got["data"]["message"]["id"])
    assert reply["id"] in seen


async def test_history_without_last_seq_is_the_newest_100(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"])
    await chat.say(v, "start")
    chat_id = int(sql("SELECT id FROM chats")[0][0])
    sql("UPDATE chats SET last_seq = 130 WHERE id = %s", (chat_id,))
    sql("INSERT INTO messages (chat_id, seq, author_kind, author_id, text)"
        " SELECT %s, g, 'visitor', (SELECT id FROM visitors), 'n' || g FROM generate_series(2, 130) g",
        (chat_id,))
    v2 = await chat.visitor_ws(site["siteKey"], visitorToken=v.session["visitorToken"])
    seqs = [m["seq"] for m in v2.session["history"]]
    assert seqs == list(range(31, 131))


async def test_typing_preview_reaches_operators(chat, site):
    op = await chat.operator_ws(site["ownerToken"])
    v = await chat.visitor_ws(site["siteKey"])
    m = await chat.say(v, "hi")
    await v.send_json({"type": "visitor:typing", "data": {"typing": True, "preview": "I want to"}})
    got = await recv_until(op, "visitor:typing")
    assert got["data"] == {"chatId": m["chatId"], "typing": True, "preview": "I want to"}


async def test_visitor_read_marks_operator_messages(chat, site, sql):
    op = await chat.operator_ws(site["ownerToken"])
    v = await chat.visitor_ws(site["siteKey"])
    m = await chat.say(v, "hi")
    await chat.reply(op, m["chatId"], "one")
    await chat.reply(op, m["chatId"], "two")
    reply = await request(v, "visitor:read", {"seq": 2})
    assert reply["data"] == {"seq": 2}
    got = await recv_until(op, "visitor:read")
    assert got["data"] == {"chatId": m["chatId"], "seq": 2}
    rows = sql("SELECT seq, read_at IS NOT NULL FROM messages ORDER BY seq")
    assert rows == [(1, False), (2, True), (3, False)]
    # A read cursor past the end is clamped, never invented.
    assert (await request(v, "visitor:read", {"seq": 999}))["data"] == {"seq": 3}


async def test_page_change_reaches_operators(chat, site, sql):
    op = await chat.operator_ws(site["ownerToken"])
    v = await chat.visitor_ws(site["siteKey"], pageUrl="https://shop.example/")
    await chat.say(v, "hi")
    await request(v, "visitor:page", {"pageUrl": "https://shop.example/cart", "pageTitle": "Cart"})
    got = await recv_until(op, "visitor:page")
    assert got["data"]["pageUrl"] == "https://shop.example/cart"
    assert sql("SELECT page_url, page_title FROM visitors") == [("https://shop.example/cart", "Cart")]


async def test_reactions_toggle_and_reach_both_sides(chat, site):
    op = await chat.operator_ws(site["ownerToken"])
    v = await chat.visitor_ws(site["siteKey"])
    m = await chat.say(v, "hi")
    r = await chat.reply(op, m["chatId"], "hello")
    reply = await request(v, "message:react", {"messageId": r["id"], "emoji": "👍"})
    assert reply["data"]["message"]["reactions"] == {"👍": [v.session["visitorId"]]}
    got = await recv_until(op, "message:reaction")
    assert got["data"]["messageId"] == r["id"]
    reply = await request(v, "message:react", {"messageId": r["id"], "emoji": "👍"})
    assert reply["data"]["message"]["reactions"] == {}
    bad = await request(v, "message:react", {"messageId": "m_999999", "emoji": "👍"})
    assert bad["data"]["code"] == "not_found"


async def test_reacting_to_another_chats_message_is_not_found(chat, site):
    a = await chat.visitor_ws(site["siteKey"])
    b = await chat.visitor_ws(site["siteKey"])
    ma = await chat.say(a, "mine")
    await chat.say(b, "theirs")
    reply = await request(b, "message:react", {"messageId": ma["id"], "emoji": "👍"})
    assert reply["data"]["code"] == "not_found"


async def test_second_tab_sees_own_message(chat, site):
    a = await chat.visitor_ws(site["siteKey"])
    first = await chat.say(a, "one")
    b = await chat.visitor_ws(site["siteKey"], visitorToken=a.session["visitorToken"])
    await chat.say(a, "two")
    got = await recv_until(b, "visitor:message")
    assert got["data"]["message"]["text"] == "two"
    assert first["chatId"] == b.session["chatId"]


async def test_rate_limit_then_close_4008(chat, site):
    v = await chat.visitor_ws(site["siteKey"])
    codes = []
    for i in range(200):
        await v.send_json({"type": "ping", "ref": str(i)})
    while True:
        msg = await v.receive(timeout=5)
        if msg.type != WSMsgType.TEXT:
            break
        frame = json.loads(msg.data)
        codes.append(frame["type"] if frame["type"] == "ack" else frame["data"]["code"])
    assert codes.count("ack") >= 20
    assert "rate_limited" in codes
    assert v.close_code == 4008


async def test_rate_limits_off(aiohttp_client, config, site):
    """CHATIQ_RATE_LIMITS=off (load tests from one address) lifts every frame limit."""
    import dataclasses

    from chatiq.app import create_app
    from conftest import ChatHelper

    unlimited = await aiohttp_client(create_app(dataclasses.replace(config, rate_limits_enabled=False)))
    chat = ChatHelper(unlimited.session, str(unlimited.make_url("/")))
    v = await chat.visitor_ws(site["siteKey"])
    for i in range(200):
        await v.send_json({"type": "ping", "ref": str(i)})
    acks = 0
    for _ in range(200):
        frame = await recv(v)
        acks += frame["type"] == "ack"
    assert acks == 200


async def test_ping(chat, site):
    v = await chat.visitor_ws(site["siteKey"])
    assert (await request(v, "ping"))["type"] == "ack"


async def test_double_join_is_refused(chat, site):
    v = await chat.visitor_ws(site["siteKey"])
    reply = await request(v, "visitor:join", {"siteKey": site["siteKey"]})
    assert reply["data"]["code"] == "invalid"


async def test_closed_chat_reopens_when_the_visitor_writes(chat, site):
    op = await chat.operator_ws(site["ownerToken"])
    v = await chat.visitor_ws(site["siteKey"])
    m = await chat.say(v, "hi")
    closed = await request(op, "chat:close", {"chatId": m["chatId"]})
    assert closed["data"]["chat"]["status"] == "closed"
    assert (await recv_until(v, "chat:closed"))["data"] == {"chatId": m["chatId"]}
    again = await chat.say(v, "one more thing")
    assert again["chatId"] == m["chatId"] and again["seq"] == 2
    updated = await recv_until(op, "chat:updated")
    assert updated["data"]["chat"]["status"] == "open"


async def test_new_site_sends_no_auto_replies(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"])
    await chat.say(v, "hello?")
    assert sql("SELECT author_kind FROM messages") == [("visitor",)]


async def test_timezone_on_join_reaches_operators_if_known(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"], timezone="Europe/Kyiv")
    m = await chat.say(v, "hi")
    op = await chat.operator_ws(site["ownerToken"])
    assert op.ready["chats"][0]["visitor"]["timezone"] == "Europe/Kyiv"
    # A name the server does not know is ignored, not stored.
    await chat.visitor_ws(site["siteKey"], visitorToken=v.session["visitorToken"],
                          timezone="Mars/Olympus_Mons")
    assert sql("SELECT timezone FROM visitors") == [("Europe/Kyiv",)]
    assert m["chatId"] == op.ready["chats"][0]["id"]
