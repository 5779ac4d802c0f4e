"""End to end on the real clock: a visitor writing outside business hours hears the
offline auto-reply at once, and it is in the chat's history with its own seq."""

from conftest import recv_until


async def test_offline_auto_reply_reaches_the_visitor_and_the_history(chat):
    token, _ = await chat.register()
    site = await chat.create_site(token)
    code, _ = await chat.call("POST", f"/api/v1/sites/{site['id']}/auto-replies", token, json={
        "trigger": "offline", "text": "We are closed now; we answer in the morning.",
        "enabled": True})
    assert code == 201
    # Hours switched on with no opening at all: closed whatever the time.
    code, hours = await chat.call("PUT", f"/api/v1/sites/{site['id']}/hours", token,
                                  json={"enabled": True, "timezone": "Europe/Kyiv"})
    assert code == 200 and hours["hours"]["status"] == {"open": False, "nextOpenAt": None}
    op = await chat.operator_ws(token)  # someone is online: it is the hours that answer
    v = await chat.visitor_ws(site["siteKey"])
    assert v.session["business"] == {"open": False, "nextOpenAt": None}

    mine = await chat.say(v, "Hello, is anyone there?")
    auto = (await recv_until(v, "auto-reply:sent"))["data"]["message"]
    assert auto["author"]["kind"] == "bot" and auto["seq"] == mine["seq"] + 1
    assert auto["text"] == "We are closed now; we answer in the morning."
    assert (await recv_until(op, "operator:message"))["data"]["message"] == auto

    code, history = await chat.call("GET", f"/api/v1/chats/{mine['chatId']}/messages", token)
    assert [(m["seq"], m["author"]["kind"]) for m in history["messages"]] == [
        (1, "visitor"), (2, "bot")]
    assert history["messages"][1] == auto

    v2 = await chat.visitor_ws(site["siteKey"], visitorToken=v.session["visitorToken"])
    assert [m["seq"] for m in v2.session["history"]] == [1, 2]
