"""Attachments sent over the sockets: once, by their uploader, in their own chat; fetched by its participants."""

from __future__ import annotations

import pytest

import samples
from samples import Uploads, client_id
from conftest import recv_until, request


@pytest.fixture
async def up(chat) -> Uploads:
    return await Uploads(chat).setup()


async def _visitor_sends(up, attachment_id, visitor=None, text=""):
    return await request(visitor or up.visitor, "visitor:message",
                         {"clientId": client_id(), "text": text, "attachmentId": attachment_id})


async def test_session_announces_uploads(up):
    assert up.visitor.session["features"]["uploads"] is True


async def test_visitor_sends_an_attachment_once(up, chat, sql):
    operator = await chat.operator_ws(up.owner_token)
    _, body = await up.as_visitor(samples.png(), "screenshot.png")
    att = body["attachment"]
    reply = await _visitor_sends(up, att["id"])
    assert reply["type"] == "ack", reply
    message = reply["data"]["message"]
    assert message["attachment"] == att and message["text"] == ""
    seen = await recv_until(operator, "visitor:message")
    assert seen["data"]["message"]["attachment"]["id"] == att["id"]
    assert sql("SELECT used, chat_id IS NOT NULL FROM attachments") == [(True, True)]

    again = await _visitor_sends(up, att["id"], text="and again")
    assert again["type"] == "error" and again["data"]["code"] == "not_found"
    assert sql("SELECT count(*) FROM messages WHERE attachment_id IS NOT NULL") == [(1,)]

    # Sent: the chat's operators and its visitor can fetch it, by URL from the message.
    status, _, data = await up.fetch(message["attachment"]["url"], up.owner_token)
    assert status == 200 and data == samples.png()
    status, _, _ = await up.fetch(up.visitor_url(message["attachment"]["thumbUrl"]))
    assert status == 200


async def test_another_visitor_cannot_use_or_fetch_it(up, chat):
    _, body = await up.as_visitor(samples.PDF, "private.pdf")
    att = body["attachment"]
    other = await chat.visitor_ws(up.site["siteKey"])
    reply = await _visitor_sends(up, att["id"], visitor=other, text="mine now")
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found"
    assert (await _visitor_sends(up, att["id"]))["type"] == "ack"
    status, _, _ = await up.fetch(up.visitor_url(att["url"], other))
    assert status == 404


async def test_operator_cannot_send_a_visitors_upload(up, chat):
    chat_id = await up.open_chat()
    operator = await chat.operator_ws(up.owner_token)
    _, body = await up.as_visitor(samples.PDF, "v.pdf")
    reply = await request(operator, "operator:message", {
        "chatId": chat_id, "clientId": client_id(), "attachmentId": body["attachment"]["id"]})
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found"


async def test_operator_sends_an_attachment_to_the_visitor(up, chat):
    chat_id = await up.open_chat()
    operator = await chat.operator_ws(up.owner_token)
    _, body = await up.as_operator(samples.jpeg_with_gps(), "map.jpg", chat_id)
    att = body["attachment"]
    reply = await request(operator, "operator:message",
                          {"chatId": chat_id, "clientId": client_id(), "attachmentId": att["id"]})
    assert reply["type"] == "ack", reply
    event = await recv_until(up.visitor, "admin:message")
    sent = event["data"]["message"]["attachment"]
    assert sent["id"] == att["id"] and sent["mime"] == "image/jpeg"
    status, _, data = await up.fetch(up.visitor_url(sent["url"]))
    assert status == 200 and data == samples.jpeg_with_gps()
    # A visitor of another chat on the same site sees nothing.
    other = await chat.visitor_ws(up.site["siteKey"])
    await chat.say(other, "hi")
    status, _, _ = await up.fetch(up.visitor_url(sent["url"], other))
    assert status == 404
    again = await request(operator, "operator:message", {
        "chatId": chat_id, "clientId": client_id(), "attachmentId": att["id"]})
    assert again["type"] == "error" and again["data"]["code"] == "not_found"


async def test_an_upload_for_one_site_cannot_go_to_another(up, chat):
    """The attachment is bound to the site it was uploaded for, even within one organization."""
    other_site = await chat.create_site(up.owner_token, name="Second shop")
    other_visitor = await chat.visitor_ws(other_site["siteKey"])
    first_chat = await up.open_chat()
    second_chat = (await chat.say(other_visitor, "hello"))["chatId"]
    operator = await chat.operator_ws(up.owner_token)
    _, body = await up.as_operator(samples.PDF, "a.pdf", first_chat)
    reply = await request(operator, "operator:message", {
        "chatId": second_chat, "clientId": client_id(), "attachmentId": body["attachment"]["id"]})
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found"


async def test_other_tenants_cannot_fetch_or_use(up, chat):
    _, body = await up.as_visitor(samples.png(), "a.png")
    att = body["attachment"]
    await _visitor_sends(up, att["id"])
    stranger_token, _ = await chat.register(organization="Rival")
    stranger_site = await chat.create_site(stranger_token)
    stranger_visitor = await chat.visitor_ws(stranger_site["siteKey"])
    status, _, _ = await up.fetch(att["url"], stranger_token)
    assert status == 404
    status, _, _ = await up.fetch(att["thumbUrl"], stranger_token)
    assert status == 404
    foreign_url = (f"{att['url']}?t={stranger_visitor.session['visitorToken']}"
                   f"&k={stranger_site['siteKey']}")
    status, _, _ = await up.fetch(foreign_url)
    assert status == 404
    # A visitor token is only valid with its own site key.
    status, _, _ = await up.fetch(f"{att['url']}?t={up.visitor_token}&k={stranger_site['siteKey']}")
    assert status == 401
    reply = await _visitor_sends(up, att["id"], visitor=stranger_visitor, text="steal")
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found"
