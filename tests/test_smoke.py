from conftest import recv_until, request


async def test_round_trip(chat, client):
    resp = await client.get("/healthz")
    assert resp.status == 200, await resp.text()
    token, user = await chat.register()
    site = await chat.create_site(token, domain="shop.example")
    assert site["allowedOrigins"] == ["https://shop.example"]
    op = await chat.operator_ws(token)
    v = await chat.visitor_ws(site["siteKey"])
    assert v.session["chatId"] is None
    m = await chat.say(v, "hello")
    assert m["seq"] == 1
    new = await recv_until(op, "chat:new")
    got = await recv_until(op, "visitor:message")
    assert got["data"]["message"]["text"] == "hello"
    r = await chat.reply(op, m["chatId"], "hi there")
    assert r["seq"] == 2
    back = await recv_until(v, "admin:message")
    assert back["data"]["message"]["text"] == "hi there"
