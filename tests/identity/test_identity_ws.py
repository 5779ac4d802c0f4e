"""Verified visitor identity over /ws/widget against a real database: good and bad hashes,
enforcement, one visitor across devices, tenants' separate user ids, malformed input."""

import asyncio
import uuid

import aiohttp
import pytest
from aiohttp import WSMsgType

from chatiq.core.identity import sign
from conftest import recv, recv_until, request

ENFORCED = 4010


@pytest.fixture
async def site(chat):
    token, _ = await chat.register()
    site = await chat.create_site(token, domain="shop.example")
    site["ownerToken"] = token
    site["secret"] = await identity_of(chat, site)
    return site


async def identity_of(chat, site) -> str:
    status, body = await chat.call("GET", f"/api/v1/sites/{site['id']}/identity",
                                   site["ownerToken"])
    assert status == 200, body
    return body["identity"]["secret"]


async def enforce(chat, site, on: bool = True) -> None:
    status, body = await chat.call("PATCH", f"/api/v1/sites/{site['id']}/identity",
                                   site["ownerToken"], json={"enforce": on})
    assert status == 200 and body["identity"]["enforce"] is on, body


def user(site, uid: str = "cust-42", **extra) -> dict:
    return {"id": uid, "hash": sign(site["secret"], uid), **extra}


async def join_raw(chat, data: dict):
    """A socket whose join answer (session, or error) has not been read yet."""
    ws = await chat.session.ws_connect(chat.base + "/ws/widget")
    await ws.send_json({"type": "visitor:join", "data": data, "ref": "j"})
    return ws


async def closed_with(ws) -> int:
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            return ws.close_code


def visitor_rows(sql):
    return sql("SELECT id, external_id, name, email FROM visitors ORDER BY id")


async def test_a_good_hash_joins_as_the_verified_customer(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"],
                              user=user(site, name="Taras", email="taras@example.com"))
    assert v.session["identity"] == {"verified": True, "userId": "cust-42"}
    ((vid, external, name, email),) = visitor_rows(sql)
    assert f"v_{vid}" == v.session["visitorId"]
    assert (external, name, email) == ("cust-42", "Taras", "taras@example.com")
    # Operators see the badge, the customer id and the verified name.
    await chat.say(v, "where is my order?")
    op = await chat.operator_ws(site["ownerToken"])
    (summary,) = op.ready["chats"]
    assert summary["visitor"]["verified"] is True and summary["visitor"]["userId"] == "cust-42"
    assert summary["visitor"]["name"] == "Taras"


async def test_an_anonymous_join_has_no_identity_and_is_not_verified(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"])
    assert v.session["identity"] is None
    await chat.say(v, "hi")
    op = await chat.operator_ws(site["ownerToken"])
    assert op.ready["chats"][0]["visitor"]["verified"] is False
    assert op.ready["chats"][0]["visitor"]["userId"] is None


@pytest.mark.parametrize("forge", ["zeros", "other_user", "other_site", "other_tenant",
                                   "no_secret_yet", "non_ascii"])
async def test_a_bad_hash_is_reported_and_ignored_when_not_enforced(chat, site, sql, forge):
    if forge == "zeros":
        bad = {"id": "cust-42", "hash": "0" * 64}
    elif forge == "other_user":
        bad = {"id": "cust-42", "hash": sign(site["secret"], "cust-1")}
    elif forge == "other_site":
        other = await chat.create_site(site["ownerToken"], name="Other")
        other["ownerToken"] = site["ownerToken"]
        bad = {"id": "cust-42", "hash": sign(await identity_of(chat, other), "cust-42")}
    elif forge == "other_tenant":
        token, _ = await chat.register(organization="Rival")
        rival = {**await chat.create_site(token, name="Rival"), "ownerToken": token}
        bad = {"id": "cust-42", "hash": sign(await identity_of(chat, rival), "cust-42")}
    elif forge == "no_secret_yet":
        fresh = await chat.create_site(site["ownerToken"], name="Fresh")
        site = {**site, **fresh}
        bad = {"id": "cust-42", "hash": sign("a guess", "cust-42")}
    else:
        bad = {"id": "cust-42", "hash": "ы" * 64}
    before = len(visitor_rows(sql))
    v = await chat.visitor_ws(site["siteKey"], user={**bad, "name": "Mallory"})
    state = v.session["identity"]
    assert state["verified"] is False and state["error"]["code"] == "unauthorized"
    assert state["error"]["field"] == "user.hash"
    # Joined, but as an anonymous visitor: no customer id, no trusted name.
    rows = visitor_rows(sql)
    assert len(rows) == before + 1 and rows[-1][1:] == (None, None, None)
    assert (await request(v, "ping"))["type"] == "ack"


async def test_enforced_site_refuses_anonymous_and_bad_hashes_with_4010(chat, site, sql):
    await enforce(chat, site)
    for data in ({}, {"user": {"id": "cust-42", "hash": "0" * 64}},
                 {"user": {"id": "cust-42", "hash": sign("b" * 64, "cust-42")}},
                 {"visitorToken": "whatever"}):
        ws = await join_raw(chat, {"siteKey": site["siteKey"], **data})
        err = await recv(ws)
        assert err["type"] == "error" and err["ref"] == "j"
        assert err["data"]["code"] == "unauthorized"
        assert err["data"]["field"] == ("user.hash" if "user" in data else "user")
        assert await closed_with(ws) == ENFORCED
    assert visitor_rows(sql) == []  # a refused join stores nothing
    v = await chat.visitor_ws(site["siteKey"], user=user(site))
    assert v.session["identity"]["verified"] is True


async def test_enforcement_turned_off_again_lets_anonymous_visitors_in(chat, site):
    await enforce(chat, site, True)
    await enforce(chat, site, False)
    v = await chat.visitor_ws(site["siteKey"])
    assert v.session["identity"] is None


async def test_a_rotated_secret_refuses_hashes_made_with_the_old_one(chat, site):
    await enforce(chat, site)
    old = user(site)
    status, body = await chat.call("POST", f"/api/v1/sites/{site['id']}/identity/rotate",
                                   site["ownerToken"])
    assert status == 200 and body["identity"]["secret"] != site["secret"]
    ws = await join_raw(chat, {"siteKey": site["siteKey"], "user": old})
    assert (await recv(ws))["data"]["field"] == "user.hash"
    assert await closed_with(ws) == ENFORCED
    v = await chat.visitor_ws(site["siteKey"], user=user({"secret": body["identity"]["secret"]}))
    assert v.session["identity"]["verified"] is True


async def test_the_same_customer_on_two_devices_is_one_visitor_with_one_history(chat, site, sql):
    laptop = await chat.visitor_ws(site["siteKey"], user=user(site))
    said = await chat.say(laptop, "ordered a lamp")
    # A second browser: no token of its own.
    phone = await chat.visitor_ws(site["siteKey"], user=user(site))
    assert phone.session["visitorId"] == laptop.session["visitorId"]
    assert phone.session["visitorToken"] != laptop.session["visitorToken"]
    assert phone.session["chatId"] == said["chatId"]
    assert [m["text"] for m in phone.session["history"]] == ["ordered a lamp"]
    # Both devices are in the chat's room: one sees what the other sends.
    await chat.say(phone, "from my phone")
    echo = await recv_until(laptop, "visitor:message")
    assert echo["data"]["message"]["text"] == "from my phone"
    # Each device's token keeps working, stored only as a hash.
    for ws in (laptop, phone):
        await ws.close()
        again = await chat.visitor_ws(site["siteKey"], user=user(site),
                                      visitorToken=ws.session["visitorToken"])
        assert again.session["visitorToken"] == ws.session["visitorToken"]
        assert [m["text"] for m in again.session["history"]] == ["ordered a lamp",
                                                                  "from my phone"]
    assert len(visitor_rows(sql)) == 1
    (count,) = sql("SELECT count(*) FROM visitor_tokens")[0]
    assert count == 1
    stored = b"".join(bytes(r[0]) for r in sql("SELECT token_hash FROM visitor_tokens"))
    assert phone.session["visitorToken"].encode() not in stored


async def test_two_first_joins_at_once_make_one_visitor(chat, site, sql):
    first, second = await asyncio.gather(
        chat.visitor_ws(site["siteKey"], user=user(site, "new-customer")),
        chat.visitor_ws(site["siteKey"], user=user(site, "new-customer")))
    assert first.session["visitorId"] == second.session["visitorId"]
    assert len(visitor_rows(sql)) == 1


async def test_a_verified_customers_token_alone_shows_nothing(chat, site, sql):
    """A shared computer after sign-out: the token left in the browser must not show the
    customer's chat to whoever comes next without a verified identity."""
    v = await chat.visitor_ws(site["siteKey"], user=user(site))
    await chat.say(v, "my address is …")
    anon = await chat.visitor_ws(site["siteKey"], visitorToken=v.session["visitorToken"])
    assert anon.session["visitorId"] != v.session["visitorId"]
    assert anon.session["history"] == [] and anon.session["chatId"] is None
    # Nor does another customer's verified identity.
    other = await chat.visitor_ws(site["siteKey"], user=user(site, "cust-7"),
                                  visitorToken=v.session["visitorToken"])
    assert other.session["visitorId"] not in (v.session["visitorId"], anon.session["visitorId"])
    assert other.session["history"] == []


async def test_user_ids_are_per_site_and_per_tenant(chat, site, sql):
    v = await chat.visitor_ws(site["siteKey"], user=user(site))
    await chat.say(v, "site one")
    sister = await chat.create_site(site["ownerToken"], name="Sister")
    sister["ownerToken"] = site["ownerToken"]
    sister["secret"] = await identity_of(chat, sister)
    token, _ = await chat.register(organization="Rival")
    rival = {**await chat.create_site(token, name="Rival"), "ownerToken": token}
    rival["secret"] = await identity_of(chat, rival)
    seen = {v.session["visitorId"]}
    for other in (sister, rival):
        w = await chat.visitor_ws(other["siteKey"], user=user(other),
                                  visitorToken=v.session["visitorToken"])
        assert w.session["identity"]["verified"] is True
        assert w.session["history"] == [] and w.session["visitorId"] not in seen
        seen.add(w.session["visitorId"])
    assert sorted(r[1] for r in visitor_rows(sql)) == ["cust-42"] * 3


async def test_an_anonymous_chat_follows_the_visitor_who_signs_in(chat, site, sql):
    anon = await chat.visitor_ws(site["siteKey"])
    asked = await chat.say(anon, "can I pay by card?")
    op = await chat.operator_ws(site["ownerToken"])
    v = await chat.visitor_ws(site["siteKey"], visitorToken=anon.session["visitorToken"],
                              user=user(site, name="Taras"))
    assert v.session["visitorId"] != anon.session["visitorId"]
    assert v.session["chatId"] == asked["chatId"]
    assert [m["text"] for m in v.session["history"]] == ["can I pay by card?"]
    assert v.session["history"][0]["author"]["id"] == v.session["visitorId"]
    assert v.session["history"][0]["author"]["name"] == "Taras"
    updated = await recv_until(op, "chat:updated")
    assert updated["data"]["chat"]["visitor"]["verified"] is True
    assert updated["data"]["chat"]["visitor"]["id"] == v.session["visitorId"]
    # The anonymous visitor (same browser, signed out) no longer holds that chat.
    await anon.close()
    back = await chat.visitor_ws(site["siteKey"], visitorToken=anon.session["visitorToken"])
    assert back.session["visitorId"] == anon.session["visitorId"]
    assert back.session["chatId"] is None and back.session["history"] == []


async def test_an_anonymous_chat_does_not_hide_the_customers_own(chat, site, sql):
    laptop = await chat.visitor_ws(site["siteKey"], user=user(site))
    await chat.say(laptop, "earlier question")
    anon = await chat.visitor_ws(site["siteKey"])
    await chat.say(anon, "anonymous question")
    v = await chat.visitor_ws(site["siteKey"], visitorToken=anon.session["visitorToken"],
                              user=user(site))
    assert v.session["visitorId"] == laptop.session["visitorId"]
    assert [m["text"] for m in v.session["history"]] == ["earlier question"]
    # The anonymous chat stays with the anonymous visitor, where operators see it.
    rows = sql("SELECT v.external_id FROM chats c JOIN visitors v ON v.id = c.visitor_id"
               " ORDER BY c.id")
    assert [r[0] for r in rows] == ["cust-42", None]


async def test_an_open_anonymous_chat_replaces_a_closed_older_one(chat, site, sql):
    laptop = await chat.visitor_ws(site["siteKey"], user=user(site))
    old = await chat.say(laptop, "old and done")
    op = await chat.operator_ws(site["ownerToken"])
    assert (await request(op, "chat:close", {"chatId": old["chatId"]}))["type"] == "ack"
    anon = await chat.visitor_ws(site["siteKey"])
    new = await chat.say(anon, "new and open")
    v = await chat.visitor_ws(site["siteKey"], visitorToken=anon.session["visitorToken"],
                              user=user(site))
    assert v.session["visitorId"] == laptop.session["visitorId"]
    assert v.session["chatId"] == new["chatId"]
    assert [m["text"] for m in v.session["history"]] == ["new and open"]


async def test_verified_name_and_email_override_and_persist(chat, site, sql):
    await chat.visitor_ws(site["siteKey"], user=user(site, name="Taras", email="t@example.com"))
    await chat.visitor_ws(site["siteKey"], user=user(site, name="Taras Shevchenko"))
    assert visitor_rows(sql)[0][1:] == ("cust-42", "Taras Shevchenko", "t@example.com")
    await chat.visitor_ws(site["siteKey"], user=user(site, name="  ", email=""))
    assert visitor_rows(sql)[0][2:] == ("Taras Shevchenko", "t@example.com")


@pytest.mark.parametrize("bad, code, field", [
    ({"id": "x" * 256, "hash": "0" * 64}, "too_large", "user.id"),
    ({"id": 42, "hash": "0" * 64}, "bad_frame", "user.id"),
    ({"id": "42", "hash": 12345}, "bad_frame", "user.hash"),
    ({"id": "42"}, "invalid", "user.hash"),
    ("cust-42", "bad_frame", "user"),
    ({"id": "42", "hash": "0" * 64, "email": "e" * 300}, "too_large", "user.email"),
])
@pytest.mark.parametrize("enforced", [False, True])
async def test_a_malformed_user_is_a_field_error_and_changes_nothing(chat, site, sql, bad, code,
                                                                    field, enforced):
    if enforced:
        await enforce(chat, site)
    ws = await join_raw(chat, {"siteKey": site["siteKey"], "user": bad})
    err = await recv(ws)
    assert err["type"] == "error" and (err["data"]["code"], err["data"]["field"]) == (code, field)
    assert visitor_rows(sql) == []
    # The socket stays open and a proper join works on it.
    await ws.send_json({"type": "visitor:join",
                        "data": {"siteKey": site["siteKey"], "user": user(site)}})
    session = await recv_until(ws, "session")
    assert session["data"]["identity"]["verified"] is True


async def test_an_unverified_identity_on_a_token_keeps_the_anonymous_visitor(chat, site):
    anon = await chat.visitor_ws(site["siteKey"])
    await chat.say(anon, "hello")
    again = await chat.visitor_ws(site["siteKey"], visitorToken=anon.session["visitorToken"],
                                  user={"id": "cust-42", "hash": "0" * 64})
    assert again.session["visitorId"] == anon.session["visitorId"]
    assert [m["text"] for m in again.session["history"]] == ["hello"]
    assert again.session["identity"]["verified"] is False


async def test_uploads_still_work_with_a_second_devices_token(chat, site):
    await chat.visitor_ws(site["siteKey"], user=user(site))
    phone = await chat.visitor_ws(site["siteKey"], user=user(site))
    form = aiohttp.FormData()
    form.add_field("siteKey", site["siteKey"])
    form.add_field("visitorToken", phone.session["visitorToken"])
    form.add_field("file", b"hello there", filename="note.txt", content_type="text/plain")
    status, body = await chat.call("POST", "/api/v1/uploads", data=form)
    assert status == 201, body
    sent = await request(phone, "visitor:message", {"clientId": uuid.uuid4().hex,
                                                    "attachmentId": body["attachment"]["id"]})
    assert sent["type"] == "ack", sent


async def test_visitor_identified_fires_once_per_customer_and_per_sign_in(chat, site, caplog):
    caplog.set_level("INFO", logger="chatiq.live.visitor")

    def events() -> list[str]:
        return [r.getMessage() for r in caplog.records
                if "identified as customer" in r.getMessage()]

    first = await chat.visitor_ws(site["siteKey"], user=user(site))
    assert len(events()) == 1 and "'cust-42'" in events()[0]
    await chat.visitor_ws(site["siteKey"], user=user(site),
                          visitorToken=first.session["visitorToken"])
    await chat.visitor_ws(site["siteKey"], user=user(site))  # another device, no anonymous past
    assert len(events()) == 1
    anon = await chat.visitor_ws(site["siteKey"])
    await chat.visitor_ws(site["siteKey"], user=user(site),
                          visitorToken=anon.session["visitorToken"])
    assert len(events()) == 2  # an anonymous visitor signed in
    await chat.visitor_ws(site["siteKey"], user={"id": "cust-42", "hash": "0" * 64})
    assert len(events()) == 2


async def test_visitor_identified_reaches_webhooks_through_the_outbox(aiohttp_client, config, sql):
    """The hook runs in join_verified's transaction: one job per customer identified and
    per anonymous visitor who signs in, none for a repeat join or a bad hash."""
    import dataclasses

    from conftest import ChatHelper
    from chatiq.app import create_app

    config = dataclasses.replace(config, webhooks_allow_private=True)
    client = await aiohttp_client(create_app(config))
    chat = ChatHelper(client.session, str(client.make_url("/")))
    token, _ = await chat.register()
    site = {**await chat.create_site(token), "ownerToken": token}
    site["secret"] = await identity_of(chat, site)
    status, body = await chat.call("POST", f"/api/v1/sites/{site['id']}/webhooks", token,
                                   json={"url": "http://127.0.0.1:9/hook",
                                         "events": ["visitor.identified"]})
    assert status == 201, body

    def jobs():
        return [r[0] for r in sql("SELECT payload FROM outbox WHERE kind = 'webhook'"
                                  " ORDER BY id")]

    anon = await chat.visitor_ws(site["siteKey"])
    said = await chat.say(anon, "before signing in")
    first = await chat.visitor_ws(site["siteKey"], user=user(site, name="Taras"),
                                  visitorToken=anon.session["visitorToken"])
    (job,) = jobs()
    assert job["event"] == "visitor.identified" and job["siteId"] == site["id"]
    assert job["data"]["visitor"] == {"id": first.session["visitorId"], "userId": "cust-42",
                                      "name": "Taras", "email": None}
    assert job["data"]["chatId"] == said["chatId"]  # the anonymous chat moved with them
    await chat.visitor_ws(site["siteKey"], user=user(site),
                          visitorToken=first.session["visitorToken"])
    await chat.visitor_ws(site["siteKey"], user={"id": "cust-42", "hash": "0" * 64})
    assert len(jobs()) == 1
    other = await chat.visitor_ws(site["siteKey"])
    await chat.visitor_ws(site["siteKey"], user=user(site),
                          visitorToken=other.session["visitorToken"])
    assert len(jobs()) == 2 and jobs()[1]["data"]["chatId"] == said["chatId"]
