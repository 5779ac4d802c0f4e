"""Webhook delivery end to end: a real receiver on localhost gets every event exactly once,
signed; refusals, hangs and restarts are retried and logged, nothing lost or doubled."""

from __future__ import annotations

import asyncio
import dataclasses

from chatiq.core import identity
from chatiq.outbox import worker as worker_mod
from chatiq.webhooks import sender as sender_mod
from conftest import request
from webhook_support import (Server, add_webhook, fast_config, owner_with_site,  # noqa: F401
                             receiver, settle, verify_signature)


def log_of(sql, delivery_id: str) -> list[tuple]:
    return sql("SELECT attempt, ok, status_code, error FROM outbox_attempts"
               " WHERE outbox_id = %s ORDER BY id", (int(delivery_id.split("_")[1]),))


async def test_every_event_arrives_once_signed(fast_config, aiohttp_client, receiver, sql):
    server = Server(aiohttp_client, fast_config)
    chat = await server.start()
    token, site = await owner_with_site(chat)
    hook = await add_webhook(chat, token, site["id"], receiver.url)
    closes_only = await add_webhook(chat, token, site["id"], receiver.url + "?closes",
                                    events=["chat.closed"])
    quiet_site = await chat.create_site(token, name="No hooks")

    visitor = await chat.visitor_ws(site["siteKey"])
    first = await chat.say(visitor, "hello")  # creates the chat
    second = await chat.say(visitor, "anyone?")  # the group-commit path
    chat_id = first["chatId"]
    op = await chat.operator_ws(token)
    answer = await chat.reply(op, chat_id, "hi, how can I help?")
    assert (await request(op, "chat:close", {"chatId": chat_id}))["type"] == "ack"
    again = await chat.say(visitor, "one more thing")  # reopens it
    assert (await request(op, "chat:close", {"chatId": chat_id}))["type"] == "ack"
    elsewhere = await chat.visitor_ws(quiet_site["siteKey"])
    await chat.say(elsewhere, "not for the webhook")

    expected = 7 + 2  # 1 started, 4 messages, 2 closes; and the 2 closes again
    await receiver.wait_for(expected)
    await asyncio.sleep(0.5)  # several polls more: nothing else arrives
    assert len(receiver.got) == expected

    secrets = {hook["id"]: hook["secret"], closes_only["id"]: closes_only["secret"]}
    by_hook = {hook["id"]: [], closes_only["id"]: []}
    for got in receiver.got:
        headers, body = got["headers"], got["json"]
        # Which endpoint it was for: only one of the secrets verifies it.
        matching = [ref for ref, secret in secrets.items()
                    if verify_signature(secret, headers, got["body"])]
        assert len(matching) == 1, headers
        owner = matching[0]
        by_hook[owner].append(body)
        assert headers["X-ChatIQ-Event"] == body["event"]
        assert headers["X-ChatIQ-Delivery"] == body["id"]
        assert headers["Content-Type"] == "application/json"
        assert body["siteId"] == site["id"] and body["createdAt"].endswith("Z")
    ids = [g["json"]["id"] for g in receiver.got]
    assert len(set(ids)) == len(ids)

    events = [(b["event"], b["data"].get("message", {}).get("id")) for b in by_hook[hook["id"]]]
    assert sorted(events, key=str) == sorted([
        ("chat.started", None), ("message.created", first["id"]),
        ("message.created", second["id"]), ("message.created", answer["id"]),
        ("message.created", again["id"]), ("chat.closed", None), ("chat.closed", None)], key=str)
    started = next(b for b in by_hook[hook["id"]] if b["event"] == "chat.started")
    assert started["data"]["chat"]["id"] == chat_id
    assert started["data"]["chat"]["visitor"]["id"] == visitor.session["visitorId"]
    said = {b["data"]["message"]["text"]: b["data"]["message"]["author"]["kind"]
            for b in by_hook[hook["id"]] if b["event"] == "message.created"}
    assert said == {"hello": "visitor", "anyone?": "visitor", "hi, how can I help?": "operator",
                    "one more thing": "visitor"}
    closes = by_hook[closes_only["id"]]
    assert [b["event"] for b in closes] == ["chat.closed", "chat.closed"]
    assert all(b["data"]["chat"]["status"] == "closed" for b in closes)
    assert closes[0]["data"]["chat"]["closedAt"] != closes[1]["data"]["chat"]["closedAt"]
    # The delivery log holds one successful attempt per delivery.
    assert all(log_of(sql, i) == [(1, True, 200, None)] for i in ids)
    await server.stop()


async def test_a_500_is_retried_then_delivered_and_logged(fast_config, aiohttp_client,
                                                          receiver, sql):
    receiver.script = [500, (503, {"Retry-After": "0"}), 200]
    server = Server(aiohttp_client, fast_config)
    chat = await server.start()
    token, site = await owner_with_site(chat)
    hook = await add_webhook(chat, token, site["id"], receiver.url, events=["message.created"])
    visitor = await chat.visitor_ws(site["siteKey"])
    await chat.say(visitor, "hello")
    await receiver.wait_for(3)
    first, second, third = receiver.got
    assert first["json"] == second["json"] == third["json"]  # the same delivery, same id
    assert all(verify_signature(hook["secret"], g["headers"], g["body"]) for g in receiver.got)
    delivery = first["json"]["id"]
    await settle(lambda: len(log_of(sql, delivery)) == 3, what="three logged attempts")
    assert log_of(sql, delivery) == [(1, False, 500, "HTTP 500: receiver says 500"),
                                     (2, False, 503, "HTTP 503: receiver says 503"),
                                     (3, True, 200, None)]
    status, body = await chat.call("GET", f"/api/v1/webhooks/{hook['id']}/deliveries", token)
    assert status == 200
    (shown,) = body["deliveries"]
    assert shown["id"] == delivery and shown["status"] == "sent" and shown["attempts"] == 3
    assert [a["statusCode"] for a in shown["log"]] == [500, 503, 200]
    await server.stop()


async def test_a_hanging_receiver_times_out_and_is_retried(fast_config, aiohttp_client,
                                                           receiver, sql):
    receiver.script = ["hang", 200]
    config = dataclasses.replace(fast_config, webhooks_timeout_seconds=0.3)
    server = Server(aiohttp_client, config)
    chat = await server.start()
    token, site = await owner_with_site(chat)
    await add_webhook(chat, token, site["id"], receiver.url, events=["chat.started"])
    visitor = await chat.visitor_ws(site["siteKey"])
    await chat.say(visitor, "hello")
    await receiver.wait_for(2)
    delivery = receiver.got[0]["json"]["id"]
    await settle(lambda: len(log_of(sql, delivery)) == 2, what="two logged attempts")
    assert log_of(sql, delivery) == [(1, False, None, "timed out after 0.3 s"),
                                     (2, True, 200, None)]
    await server.stop()


async def test_410_gone_stops_retries_and_redirects_are_not_followed(
        fast_config, aiohttp_client, receiver, sql):
    receiver.script = [410, (302, {"Location": "http://169.254.169.254/latest"}), 200]
    server = Server(aiohttp_client, fast_config)
    chat = await server.start()
    token, site = await owner_with_site(chat)
    await add_webhook(chat, token, site["id"], receiver.url, events=["message.created"])
    visitor = await chat.visitor_ws(site["siteKey"])
    await chat.say(visitor, "one")
    await receiver.wait_for(1)
    await chat.say(visitor, "two")
    await receiver.wait_for(3)
    gone, moved, fine = receiver.got
    assert gone["json"]["id"] != moved["json"]["id"] == fine["json"]["id"]
    await settle(lambda: len(log_of(sql, moved["json"]["id"])) == 2, what="the retry logged")
    assert log_of(sql, gone["json"]["id"]) == [(1, False, 410, "HTTP 410: receiver says 410")]
    assert sql("SELECT status FROM outbox WHERE id = %s",
               (int(gone["json"]["id"].split("_")[1]),)) == [("failed",)]
    assert log_of(sql, moved["json"]["id"])[0] == (
        1, False, 302, "HTTP 302: redirects are not followed (to http://169.254.169.254/latest)")
    await server.stop()


async def test_nothing_is_lost_or_doubled_across_a_restart(fast_config, aiohttp_client,
                                                           receiver, sql, monkeypatch):
    """Events stored while the receiver is down, the app restarted, the receiver back:
    each event is accepted exactly once."""
    # Jobs claimed when the first app stops fall due again when their lease ends.
    monkeypatch.setattr(worker_mod, "LEASE_SECONDS", 0.5)
    monkeypatch.setattr(worker_mod, "STOP_GRACE_SECONDS", 0.1)
    receiver.default = 503
    server = Server(aiohttp_client, dataclasses.replace(fast_config, outbox_backoff_base=0.2,
                                                        outbox_backoff_cap=0.5,
                                                        outbox_max_attempts=50))
    chat = await server.start()
    token, site = await owner_with_site(chat)
    await add_webhook(chat, token, site["id"], receiver.url)
    visitor = await chat.visitor_ws(site["siteKey"])
    sent = [await chat.say(visitor, f"message {n}") for n in range(5)]
    await receiver.wait_for(6)  # at least one try of each (1 chat.started + 5 messages)
    await visitor.close()
    await server.stop()
    refused = len(receiver.got)
    assert not receiver.accepted()

    receiver.default = 200
    chat = await server.start()
    await settle(lambda: len({g["json"]["id"] for g in receiver.accepted()}) == 6,
                 what="all six accepted")
    await asyncio.sleep(0.5)
    accepted = receiver.accepted()
    assert len(accepted) == 6  # nothing accepted twice
    assert len(receiver.got) > refused
    texts = sorted(g["json"]["data"]["message"]["text"] for g in accepted
                   if g["json"]["event"] == "message.created")
    assert texts == sorted(m["text"] for m in sent)
    assert sql("SELECT status, count(*) FROM outbox GROUP BY status") == [("sent", 6)]
    await server.stop()


async def test_a_deleted_endpoint_gets_nothing_more(fast_config, aiohttp_client, receiver, sql):
    receiver.default = 500
    server = Server(aiohttp_client, fast_config)
    chat = await server.start()
    token, site = await owner_with_site(chat)
    hook = await add_webhook(chat, token, site["id"], receiver.url)
    visitor = await chat.visitor_ws(site["siteKey"])
    await chat.say(visitor, "hello")
    await receiver.wait_for(2)
    status, _ = await chat.call("DELETE", f"/api/v1/webhooks/{hook['id']}", token)
    assert status == 204
    assert sql("SELECT count(*) FROM outbox") == [(0,)]
    seen = len(receiver.got)
    await chat.say(visitor, "still there?")
    await asyncio.sleep(0.5)
    assert len(receiver.got) <= seen + 2  # at most attempts already in flight finish
    assert sql("SELECT count(*) FROM outbox") == [(0,)]
    await server.stop()


async def test_the_signature_uses_the_rotated_secret(fast_config, aiohttp_client, receiver):
    server = Server(aiohttp_client, fast_config)
    chat = await server.start()
    token, site = await owner_with_site(chat)
    hook = await add_webhook(chat, token, site["id"], receiver.url)
    status, body = await chat.call("POST", f"/api/v1/webhooks/{hook['id']}/rotate-secret", token)
    assert status == 200
    new_secret = body["webhook"]["secret"]
    assert new_secret != hook["secret"] and new_secret.startswith("whsec_")
    status, body = await chat.call("POST", f"/api/v1/webhooks/{hook['id']}/test", token)
    assert status == 202, body
    await receiver.wait_for(1)
    (got,) = receiver.got
    assert got["json"]["event"] == "webhook.test" and got["json"]["id"] == body["delivery"]["id"]
    assert verify_signature(new_secret, got["headers"], got["body"])
    assert not verify_signature(hook["secret"], got["headers"], got["body"])
    await server.stop()


def test_retry_after_reads_seconds_and_dates():
    assert sender_mod.retry_after("120") == 120.0
    assert sender_mod.retry_after(None) is None
    assert sender_mod.retry_after("soon") is None
    assert sender_mod.retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    later = sender_mod.retry_after("Wed, 21 Oct 2099 07:28:00 GMT")
    assert later is not None and later > 3600


async def test_a_visitor_identifying_is_an_event(fast_config, aiohttp_client, receiver):
    server = Server(aiohttp_client, fast_config)
    chat = await server.start()
    token, site = await owner_with_site(chat)
    hook = await add_webhook(chat, token, site["id"], receiver.url,
                             events=["visitor.identified"])
    status, body = await chat.call("GET", f"/api/v1/sites/{site['id']}/identity", token)
    assert status == 200, body
    secret = body["identity"]["secret"]
    user = {"id": "cust-1", "name": "Iryna", "email": "iryna@example.com",
            "hash": identity.sign(secret, "cust-1")}
    anonymous = await chat.visitor_ws(site["siteKey"])
    await chat.say(anonymous, "hi, before I log in")
    device_token = anonymous.session["visitorToken"]
    await anonymous.close()
    signed_in = await chat.visitor_ws(site["siteKey"], visitorToken=device_token, user=user)
    again = await chat.visitor_ws(site["siteKey"], visitorToken=signed_in.session["visitorToken"],
                                  user=user)  # the same customer on the same device: no event
    forged = {**user, "hash": "0" * 64}
    await chat.visitor_ws(site["siteKey"], user=forged)  # refused identity: anonymous, no event
    await receiver.wait_for(1)
    await asyncio.sleep(0.5)
    (got,) = receiver.got
    assert verify_signature(hook["secret"], got["headers"], got["body"])
    body = got["json"]
    assert body["event"] == "visitor.identified"
    assert body["data"]["visitor"] == {"id": signed_in.session["visitorId"], "userId": "cust-1",
                                       "name": "Iryna", "email": "iryna@example.com"}
    assert body["data"]["chatId"] == signed_in.session["chatId"]
    for ws in (signed_in, again):
        await ws.close()
    await server.stop()
