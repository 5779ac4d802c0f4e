"""/ws/operator: auth, every operator frame, fan-out and tenant isolation."""

import asyncio
import json
import time

import jwt
import pytest
from aiohttp import WSMsgType

from conftest import recv, recv_until, request


@pytest.fixture
async def org(chat):
    token, user = await chat.register(name="Olena")
    site = await chat.create_site(token)
    return {"token": token, "user": user, "site": site}


async def closed_with(ws) -> int:
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            return ws.close_code


async def test_ready_lists_sites_and_chats(chat, org):
    v = await chat.visitor_ws(org["site"]["siteKey"])
    m = await chat.say(v, "hi")
    op = await chat.operator_ws(org["token"])
    ready = op.ready
    assert ready["operator"]["id"] == org["user"]["id"] and ready["operator"]["role"] == "OWNER"
    assert [s["id"] for s in ready["sites"]] == [org["site"]["id"]]
    (summary,) = ready["chats"]
    assert summary["id"] == m["chatId"] and summary["status"] == "open"
    assert summary["unread"] == 1 and summary["lastMessage"]["text"] == "hi"
    assert summary["visitor"]["id"] == v.session["visitorId"] and summary["assignedTo"] is None


async def test_auth_ack_when_ref_given(chat, org):
    ws = await chat.session.ws_connect(chat.base + "/ws/operator")
    await ws.send_json({"type": "auth", "ref": "a1", "data": {"token": org["token"]}})
    assert (await recv(ws))["type"] == "operator:ready"
    assert (await recv(ws)) == {"type": "ack", "ref": "a1", "data": {"operatorId": org["user"]["id"]}}


@pytest.mark.parametrize("first", [
    {"type": "auth", "data": {"token": "garbage"}},
    {"type": "auth", "data": {"token": 5}},
    {"type": "auth"},
    {"type": "chat:subscribe", "data": {"chatId": "c_1"}},
    "not json",
])
async def test_bad_auth_closes_4001(chat, first):
    ws = await chat.session.ws_connect(chat.base + "/ws/operator")
    await (ws.send_str(first) if isinstance(first, str) else ws.send_json(first))
    err = await recv(ws)
    assert err["type"] == "error" and err["data"]["code"] == "unauthorized"
    assert await closed_with(ws) == 4001


async def test_no_auth_frame_in_time_closes_4001(chat):
    ws = await chat.session.ws_connect(chat.base + "/ws/operator")
    assert (await recv(ws))["data"]["code"] == "unauthorized"
    assert await closed_with(ws) == 4001


async def test_forged_and_expired_tokens_close_4001(chat, org, config):
    claims = jwt.decode(org["token"], options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-server-secret-" + "x" * 20, algorithm="HS256")
    expired = jwt.encode({**claims, "exp": int(time.time()) - 5}, config.secret_key, algorithm="HS256")
    other_user = jwt.encode({**claims, "sub": "999999"}, config.secret_key, algorithm="HS256")
    none_alg = jwt.encode(claims, None, algorithm="none")
    for token in (forged, expired, other_user, none_alg):
        ws = await chat.session.ws_connect(chat.base + "/ws/operator")
        await ws.send_json({"type": "auth", "data": {"token": token}})
        assert await closed_with(ws) == 4001


async def test_logout_revokes_socket_auth(chat, org):
    status, _ = await chat.call("POST", "/api/v1/auth/logout", org["token"])
    assert status == 200
    ws = await chat.session.ws_connect(chat.base + "/ws/operator")
    await ws.send_json({"type": "auth", "data": {"token": org["token"]}})
    assert await closed_with(ws) == 4001


async def test_subscribe_and_resume(chat, org):
    v = await chat.visitor_ws(org["site"]["siteKey"])
    for i in range(4):
        m = await chat.say(v, f"v{i}")
    op = await chat.operator_ws(org["token"])
    full = await request(op, "chat:subscribe", {"chatId": m["chatId"]})
    assert [x["seq"] for x in full["data"]["messages"]] == [1, 2, 3, 4]
    part = await request(op, "chat:subscribe", {"chatId": m["chatId"], "lastSeq": 2})
    assert [x["text"] for x in part["data"]["messages"]] == ["v2", "v3"]
    assert part["data"]["chat"]["id"] == m["chatId"]


async def test_operator_message_fan_out_and_idempotency(chat, org, sql):
    v = await chat.visitor_ws(org["site"]["siteKey"])
    m = await chat.say(v, "hi")
    op = await chat.operator_ws(org["token"])
    colleague = await chat.operator_ws(org["token"])  # a second tab counts as a colleague view
    r1 = await chat.reply(op, m["chatId"], "hello", client_id="op-1")
    r2 = await chat.reply(op, m["chatId"], "hello again?", client_id="op-1")
    assert r1 == r2 and r1["author"] == {"kind": "operator", "id": org["user"]["id"],
                                         "name": "Olena", "avatarUrl": None}
    got = await recv_until(v, "admin:message")
    assert got["data"]["message"]["id"] == r1["id"]
    seen = await recv_until(colleague, "operator:message")
    assert seen["data"]["message"]["id"] == r1["id"]
    assert sql("SELECT count(*) FROM messages WHERE author_kind = 'operator'")[0][0] == 1
    # The first operator to answer takes the chat.
    assert sql("SELECT assigned_to FROM chats")[0][0] == int(org["user"]["id"][2:])


async def test_the_first_reply_takes_an_unassigned_chat_and_only_that_one(chat, org, sql):
    """The assignment rides in the message's own transaction: the first operator reply
    takes an unassigned chat (colleagues hear chat:updated), a later reply changes
    nothing, and a chat someone else holds keeps its assignee."""
    v = await chat.visitor_ws(org["site"]["siteKey"])
    m = await chat.say(v, "hi")
    op = await chat.operator_ws(org["token"])
    colleague = await chat.operator_ws(org["token"])
    await chat.reply(op, m["chatId"], "first")
    update = await recv_until(colleague, "chat:updated")
    assert update["data"]["chat"]["assignedTo"] == org["user"]["id"]
    await chat.reply(op, m["chatId"], "second")
    await recv_until(colleague, "operator:message")
    with pytest.raises(asyncio.TimeoutError):  # nothing changed, so nothing is announced
        await recv_until(colleague, "chat:updated", timeout=0.5)

    other = await chat.say(await chat.visitor_ws(org["site"]["siteKey"]), "hello?")
    chat_id = int(other["chatId"][2:])
    sql("INSERT INTO users (org_id, email, name, role) SELECT org_id, 'b@x.io', 'B', 'OPERATOR'"
        " FROM users LIMIT 1")
    sql("UPDATE chats SET assigned_to = (SELECT id FROM users WHERE email = 'b@x.io')"
        " WHERE id = %s", (chat_id,))
    await chat.reply(op, other["chatId"], "I'll help too")
    assert sql("SELECT u.email FROM chats c JOIN users u ON u.id = c.assigned_to"
               " WHERE c.id = %s", (chat_id,)) == [("b@x.io",)]


async def test_operator_frame_errors(chat, org, sql):
    op = await chat.operator_ws(org["token"])
    v = await chat.visitor_ws(org["site"]["siteKey"])
    m = await chat.say(v, "hi")
    cases = [
        ("operator:message", {"chatId": m["chatId"], "clientId": "x", "text": ""}, "invalid"),
        ("operator:message", {"chatId": m["chatId"], "clientId": "x"}, "invalid"),
        ("operator:message", {"chatId": "c_999999", "clientId": "x", "text": "a"}, "not_found"),
        ("operator:message", {"chatId": "garbage", "clientId": "x", "text": "a"}, "not_found"),
        ("operator:message", {"chatId": 5, "clientId": "x", "text": "a"}, "bad_frame"),
        ("operator:message", {"clientId": "x", "text": "a"}, "invalid"),
        ("chat:subscribe", {"chatId": m["chatId"], "lastSeq": "0"}, "bad_frame"),
        ("chat:assign", {"chatId": m["chatId"], "operatorId": "u_999999"}, "not_found"),
        ("operator:status", {"status": "sleeping"}, "invalid"),
        ("operator:read", {"chatId": m["chatId"]}, "invalid"),
        ("auth", {"token": org["token"]}, "invalid"),
        ("visitor:message", {"clientId": "x", "text": "a"}, "unknown_type"),
        ("message:react", {"messageId": "m_999999", "emoji": "👍"}, "not_found"),
    ]
    for ftype, data, code in cases:
        reply = await request(op, ftype, data)
        assert reply["type"] == "error" and reply["data"]["code"] == code, (ftype, data, reply)
    assert sql("SELECT count(*) FROM messages")[0][0] == 1


async def test_typing_and_read_reach_the_visitor(chat, org, sql):
    op = await chat.operator_ws(org["token"])
    v = await chat.visitor_ws(org["site"]["siteKey"])
    m = await chat.say(v, "one")
    await chat.say(v, "two")
    await request(op, "operator:typing", {"chatId": m["chatId"], "typing": True})
    got = await recv_until(v, "admin:typing")
    assert got["data"] == {"typing": True, "name": "Olena"}
    reply = await request(op, "operator:read", {"chatId": m["chatId"], "seq": 2})
    assert reply["data"] == {"seq": 2}
    assert (await recv_until(v, "admin:read"))["data"] == {"seq": 2}
    assert sql("SELECT count(*) FROM messages WHERE read_at IS NOT NULL")[0][0] == 2
    assert sql("SELECT operator_read_seq FROM chats")[0][0] == 2


async def test_close_reopen_assign(chat, org):
    colleague_status, colleague = await chat.call(
        "GET", "/api/v1/auth/me", org["token"])
    op = await chat.operator_ws(org["token"])
    v = await chat.visitor_ws(org["site"]["siteKey"])
    m = await chat.say(v, "hi")
    closed = await request(op, "chat:close", {"chatId": m["chatId"]})
    assert closed["data"]["chat"]["status"] == "closed" and closed["data"]["chat"]["closedAt"]
    assert (await recv_until(v, "chat:closed"))["data"]["chatId"] == m["chatId"]
    reopened = await request(op, "chat:reopen", {"chatId": m["chatId"]})
    assert reopened["data"]["chat"]["status"] == "open"
    assigned = await request(op, "chat:assign", {"chatId": m["chatId"],
                                                 "operatorId": colleague["user"]["id"]})
    assert assigned["data"]["chat"]["assignedTo"] == org["user"]["id"]
    unassigned = await request(op, "chat:assign", {"chatId": m["chatId"], "operatorId": None})
    assert unassigned["data"]["chat"]["assignedTo"] is None


async def test_presence_and_operators_online(chat, org):
    v = await chat.visitor_ws(org["site"]["siteKey"])
    assert v.session["operatorsOnline"] == 0
    op = await chat.operator_ws(org["token"])
    assert (await recv_until(v, "operators:online"))["data"] == {"count": 1}
    watcher = await chat.operator_ws(org["token"])
    await request(op, "operator:status", {"status": "away"})
    got = await recv_until(watcher, "presence")
    assert got["data"] == {"operatorId": org["user"]["id"], "status": "away"}
    assert (await recv_until(v, "operators:online"))["data"] == {"count": 0}


async def test_visitor_online_offline(chat, org):
    v = await chat.visitor_ws(org["site"]["siteKey"])
    m = await chat.say(v, "hi")
    op = await chat.operator_ws(org["token"])
    await v.close()
    off = await recv_until(op, "visitor:offline")
    assert off["data"] == {"chatId": m["chatId"], "visitorId": v.session["visitorId"]}
    await chat.visitor_ws(org["site"]["siteKey"], visitorToken=v.session["visitorToken"])
    on = await recv_until(op, "visitor:online")
    assert on["data"]["chatId"] == m["chatId"]


async def test_tenant_isolation_over_ws(chat, org, sql):
    mallory_token, _ = await chat.register(email="mallory@evil.example", organization="Evil")
    await chat.create_site(mallory_token, name="Evil site")
    v = await chat.visitor_ws(org["site"]["siteKey"])
    m = await chat.say(v, "private")
    mallory = await chat.operator_ws(mallory_token)
    assert mallory.ready["chats"] == [] and len(mallory.ready["sites"]) == 1
    frames = [("chat:subscribe", {"chatId": m["chatId"]}),
              ("operator:message", {"chatId": m["chatId"], "clientId": "x", "text": "hi"}),
              ("operator:typing", {"chatId": m["chatId"], "typing": True}),
              ("operator:read", {"chatId": m["chatId"], "seq": 1}),
              ("chat:close", {"chatId": m["chatId"]}), ("chat:reopen", {"chatId": m["chatId"]}),
              ("chat:assign", {"chatId": m["chatId"], "operatorId": None}),
              ("chat:unsubscribe", {"chatId": m["chatId"]}),
              ("message:react", {"messageId": m["id"], "emoji": "👍"})]
    for ftype, data in frames:
        reply = await request(mallory, ftype, data)
        assert reply["type"] == "error" and reply["data"]["code"] == "not_found", ftype
    # Nothing of theirs reached her, and nothing changed.
    await chat.say(v, "still private")
    with pytest.raises(asyncio.TimeoutError):
        while True:
            frame = await recv(mallory, timeout=0.5)
            assert "private" not in json.dumps(frame)
    assert sql("SELECT status, assigned_to, operator_read_seq FROM chats") == [("open", None, 0)]
    assert sql("SELECT count(*) FROM messages WHERE reactions <> '{}'")[0][0] == 0


async def test_operator_rate_limit_allows_100_per_second(chat, org):
    op = await chat.operator_ws(org["token"])
    for i in range(100):
        await op.send_json({"type": "ping", "ref": str(i)})
    replies = []
    while len(replies) < 100:
        frame = await recv(op)
        if "ref" in frame:
            replies.append(frame["type"])
    assert replies == ["ack"] * 100


async def test_a_new_site_reaches_open_operator_sockets(chat, org):
    """Regression: an operator socket read its sites once, so a site created later
    stayed invisible until the panel was reloaded."""
    op = await chat.operator_ws(org["token"])
    later = await chat.create_site(org["token"], name="Later")
    v = await chat.visitor_ws(later["siteKey"])
    m = await chat.say(v, "on the new site")
    assert (await recv_until(op, "visitor:message"))["data"]["message"]["id"] == m["id"]
    sub = await request(op, "chat:subscribe", {"chatId": m["chatId"]})
    assert sub["type"] == "ack" and sub["data"]["chat"]["visitorOnline"] is True


async def test_visitor_online_flag_in_summaries(chat, org):
    v = await chat.visitor_ws(org["site"]["siteKey"])
    await chat.say(v, "hi")
    op = await chat.operator_ws(org["token"])
    assert op.ready["chats"][0]["visitorOnline"] is True
    await v.close()
    await recv_until(op, "visitor:offline")
    op2 = await chat.operator_ws(org["token"])
    assert op2.ready["chats"][0]["visitorOnline"] is False
