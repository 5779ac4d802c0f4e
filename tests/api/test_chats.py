"""Chats and messages over REST: filters, paging, isolation."""

import pytest


@pytest.fixture
async def org(chat):
    token, user = await chat.register()
    site = await chat.create_site(token)
    return token, user, site


async def test_chat_list_filters(chat, org):
    token, user, site = org
    a = await chat.visitor_ws(site["siteKey"])
    b = await chat.visitor_ws(site["siteKey"])
    ma = await chat.say(a, "need a refund")
    mb = await chat.say(b, "where is my parcel")
    op = await chat.operator_ws(token)
    await chat.reply(op, mb["chatId"], "on its way")  # assigns b's chat to the owner
    from conftest import request
    await request(op, "chat:close", {"chatId": ma["chatId"]})

    async def ids(query):
        code, body = await chat.call("GET", "/api/v1/chats" + query, token)
        assert code == 200, body
        return [c["id"] for c in body["chats"]]

    assert await ids("") == [ma["chatId"], mb["chatId"]]  # newest activity first
    assert await ids("?status=open") == [mb["chatId"]]
    assert await ids("?status=closed") == [ma["chatId"]]
    assert await ids("?q=REFUND") == [ma["chatId"]]
    assert await ids("?q=100%25") == []
    assert await ids(f"?siteId={site['id']}") == [ma["chatId"], mb["chatId"]]
    assert await ids("?assigned=me") == [mb["chatId"]]
    assert await ids("?assigned=none") == [ma["chatId"]]
    for bad in ("?status=weird", "?limit=0", "?limit=abc", "?assigned=them"):
        code, body = await chat.call("GET", "/api/v1/chats" + bad, token)
        assert code == 422 and body["error"]["code"] == "invalid", bad


async def test_messages_after_seq_and_limits(chat, org):
    token, _, site = org
    v = await chat.visitor_ws(site["siteKey"])
    for i in range(6):
        m = await chat.say(v, f"m{i}")
    path = f"/api/v1/chats/{m['chatId']}/messages"
    code, body = await chat.call("GET", path, token)
    assert [x["seq"] for x in body["messages"]] == [1, 2, 3, 4, 5, 6]
    code, body = await chat.call("GET", path + "?afterSeq=4", token)
    assert [x["text"] for x in body["messages"]] == ["m4", "m5"]
    code, body = await chat.call("GET", path + "?afterSeq=1&limit=2", token)
    assert [x["seq"] for x in body["messages"]] == [2, 3]
    code, body = await chat.call("GET", path + "?beforeSeq=4&limit=2", token)
    assert [x["seq"] for x in body["messages"]] == [2, 3]
    for bad in ("?limit=1001", "?afterSeq=-1", "?afterSeq=x"):
        code, body = await chat.call("GET", path + bad, token)
        assert code == 422, bad


async def test_other_tenants_chats_are_not_found(chat, org):
    token, _, site = org
    v = await chat.visitor_ws(site["siteKey"])
    m = await chat.say(v, "private")
    evil, _ = await chat.register(email="evil@example.com")
    assert (await chat.call("GET", "/api/v1/chats", evil))[1]["chats"] == []
    for path in (f"/api/v1/chats/{m['chatId']}", f"/api/v1/chats/{m['chatId']}/messages",
                 "/api/v1/chats/c_0/messages", "/api/v1/chats/xyz"):
        code, body = await chat.call("GET", path, evil)
        assert code == 404 and body["error"]["code"] == "not_found", path


async def test_unauthenticated_is_401(chat):
    for path in ("/api/v1/chats", "/api/v1/chats/c_1/messages", "/api/v1/sites"):
        code, body = await chat.call("GET", path)
        assert code == 401 and body["error"]["code"] == "unauthorized"
