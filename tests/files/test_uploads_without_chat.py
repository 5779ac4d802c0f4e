"""An operator upload without chatId (issue 16, PROTOCOL §6: chatId is optional). The file
belongs to no site until its uploader sends it in a chat; nobody else may use or see it."""

from __future__ import annotations

import psycopg2
import pytest

import samples
from samples import Uploads, client_id, form
from chatiq import keys
from chatiq.core.security import hash_password
from chatiq.store import accounts
from conftest import recv_until, request


@pytest.fixture
async def up(chat) -> Uploads:
    return await Uploads(chat).setup()


async def _upload(up: Uploads, token: str | None = None, **fields):
    return await up.chat.call("POST", "/api/v1/uploads", token or up.owner_token,
                              data=form(samples.png(), "shot.png", **fields))


async def _colleague(up: Uploads, client, sql) -> str:
    """An OPERATOR of the owner's organization, given the site; their token."""
    op = await accounts.create_operator(
        client.app[keys.POOL], org_id=int(up.owner["organizationId"][2:]),
        email="colleague@example.com", name="Colleague",
        password_hash=await hash_password("colleague pw", 4))
    sql("INSERT INTO site_operators (site_id, user_id) VALUES (%s, %s)",
        (int(up.site["id"][2:]), op.id))
    _, body = await up.chat.call("POST", "/api/v1/auth/login", json={
        "email": "colleague@example.com", "password": "colleague pw"})
    return body["token"]


async def test_upload_without_chat_id_belongs_to_no_site_yet(up, sql):
    status, body = await _upload(up)
    assert status == 201, body
    att = body["attachment"]
    assert sql("SELECT site_id, chat_id, uploader_kind, used FROM attachments") == [
        (None, None, "operator", False)]
    status, _, data = await up.fetch(att["url"], up.owner_token)
    assert status == 200 and data == samples.png()
    # Unsent: the visitor cannot fetch it.
    assert (await up.fetch(up.visitor_url(att["url"])))[0] == 404
    # An empty chatId is the same as none.
    status, _ = await _upload(up, chatId="")
    assert status == 201


async def test_nobody_else_may_use_or_see_it(up, chat, client, sql):
    chat_id = await up.open_chat()
    _, body = await _upload(up)
    att = body["attachment"]
    colleague = await _colleague(up, client, sql)
    assert (await up.fetch(att["url"], colleague))[0] == 404
    ws = await chat.operator_ws(colleague)
    reply = await request(ws, "operator:message", {
        "chatId": chat_id, "clientId": client_id(), "attachmentId": att["id"]})
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found", reply
    # Another tenant's operator, in their own chat.
    rival_token, _ = await chat.register(organization="Rival")
    rival_site = await chat.create_site(rival_token)
    rival_visitor = await chat.visitor_ws(rival_site["siteKey"])
    rival_chat = (await chat.say(rival_visitor, "hi"))["chatId"]
    rival = await chat.operator_ws(rival_token)
    reply = await request(rival, "operator:message", {
        "chatId": rival_chat, "clientId": client_id(), "attachmentId": att["id"]})
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found", reply
    assert (await up.fetch(att["url"], rival_token))[0] == 404
    assert sql("SELECT site_id, used FROM attachments") == [(None, False)]
    # A visitor cannot send it either.
    reply = await request(up.visitor, "visitor:message", {
        "clientId": client_id(), "text": "x", "attachmentId": att["id"]})
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found", reply


async def test_the_database_refuses_a_used_or_visitor_upload_without_a_site(up, sql):
    """The migration's check: only an unsent operator upload may lack a site."""
    await _upload(up)
    with pytest.raises(psycopg2.errors.CheckViolation):
        sql("UPDATE attachments SET used = true")
    with pytest.raises(psycopg2.errors.CheckViolation):
        sql("UPDATE attachments SET uploader_kind = 'visitor'")


async def test_operator_upload_without_chat_id_end_to_end(up, chat, sql):
    chat_id = await up.open_chat()
    _, body = await _upload(up)
    att = body["attachment"]
    operator = await chat.operator_ws(up.owner_token)
    reply = await request(operator, "operator:message", {
        "chatId": chat_id, "clientId": client_id(), "attachmentId": att["id"]})
    assert reply["type"] == "ack", reply
    event = await recv_until(up.visitor, "admin:message")
    sent = event["data"]["message"]["attachment"]
    assert sent["id"] == att["id"]
    status, _, data = await up.fetch(up.visitor_url(sent["url"]))
    assert status == 200 and data == samples.png()
    assert sql("SELECT site_id, chat_id, used FROM attachments") == [
        (int(up.site["id"][2:]), int(chat_id[2:]), True)]
    again = await request(operator, "operator:message", {
        "chatId": chat_id, "clientId": client_id(), "attachmentId": att["id"]})
    assert again["type"] == "error" and again["data"]["code"] == "not_found"
