"""The webhook REST API: OWNER-only management, refused input changes nothing, another
tenant's ids are not found, the SSRF guard at save time, the delivery log and retries."""

from __future__ import annotations

import dataclasses

import pytest

from chatiq.app import create_app
from chatiq.store.webhooks import MAX_PER_SITE
from conftest import ChatHelper
from webhook_support import (Server, add_webhook, fast_config, operator_token,  # noqa: F401
                             owner_with_site, receiver, settle)

ALL_EVENTS = ["chat.started", "message.created", "chat.closed", "visitor.identified"]


@pytest.fixture
async def guarded(config, aiohttp_client):
    # config (the database) first: torn down last, after the app has stopped.
    """The production default: private and local targets refused."""
    client = await aiohttp_client(create_app(config))
    chat = ChatHelper(client.session, str(client.make_url("/")))
    token, site = await owner_with_site(chat)
    return chat, token, site, client.server.app


def webhook_rows(sql) -> list[tuple]:
    return sql("SELECT id, site_id, url, secret, events, enabled FROM webhooks ORDER BY id")


async def test_owner_manages_a_webhook(guarded, sql):
    chat, token, site, _ = guarded
    status, body = await chat.call("POST", f"/api/v1/sites/{site['id']}/webhooks", token,
                                   json={"url": "https://8.8.8.8/chatiq"})
    assert status == 201, body
    hook = body["webhook"]
    assert hook["url"] == "https://8.8.8.8/chatiq" and hook["events"] == ALL_EVENTS
    assert hook["enabled"] is True and hook["siteId"] == site["id"]
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) == 6 + 64

    status, body = await chat.call("GET", f"/api/v1/sites/{site['id']}/webhooks", token)
    assert status == 200 and body["webhooks"] == [hook]
    status, body = await chat.call("PATCH", f"/api/v1/webhooks/{hook['id']}", token,
                                   json={"events": ["chat.closed", "chat.started", "chat.closed"],
                                         "enabled": False})
    assert status == 200, body
    assert body["webhook"]["events"] == ["chat.started", "chat.closed"]  # known order, once
    assert body["webhook"]["enabled"] is False and body["webhook"]["url"] == hook["url"]
    status, body = await chat.call("POST", f"/api/v1/webhooks/{hook['id']}/rotate-secret", token)
    assert status == 200 and body["webhook"]["secret"] != hook["secret"]
    status, body = await chat.call("GET", f"/api/v1/webhooks/{hook['id']}", token)
    assert status == 200 and body["webhook"]["secret"] == webhook_rows(sql)[0][3]
    status, _ = await chat.call("DELETE", f"/api/v1/webhooks/{hook['id']}", token)
    assert status == 204
    status, body = await chat.call("GET", f"/api/v1/webhooks/{hook['id']}", token)
    assert status == 404 and body["error"]["code"] == "not_found"
    assert webhook_rows(sql) == []
    actions = [r[0] for r in sql("SELECT action FROM audit_log WHERE action LIKE 'webhook.%%'"
                                 " ORDER BY id")]
    assert actions == ["webhook.created", "webhook.secret_rotated", "webhook.deleted"]
    assert not sql("SELECT 1 FROM audit_log WHERE details::text LIKE '%%whsec_%%'")


BAD_CREATES = [
    ({"url": "ftp://example.com/hook"}, 422, "url"),
    ({"url": "javascript:alert(1)"}, 422, "url"),
    ({"url": "not a url"}, 422, "url"),
    ({"url": "http://"}, 422, "url"),
    ({"url": "https:///path"}, 422, "url"),
    ({"url": "https://user:pw@example.com/"}, 422, "url"),
    ({"url": "https://example.com/#frag"}, 422, "url"),
    ({"url": "https://example.com:99999/"}, 422, "url"),
    ({"url": "https://example.com/\nHost: evil"}, 422, "url"),
    ({"url": "https://example.com/" + "a" * 2000}, 413, "url"),
    ({"url": ""}, 422, "url"),
    ({"url": 42}, 422, "url"),
    ({"url": ["https://example.com"]}, 422, "url"),
    ({}, 422, "url"),
    ({"url": "https://example.com", "events": "chat.closed"}, 422, "events"),
    ({"url": "https://example.com", "events": []}, 422, "events"),
    ({"url": "https://example.com", "events": ["chat.exploded"]}, 422, "events[0]"),
    ({"url": "https://example.com", "events": [1]}, 422, "events[0]"),
    ({"url": "https://example.com", "events": ["chat.closed"] * 5}, 422, "events"),
    ({"url": "https://example.com", "enabled": "yes"}, 422, "enabled"),
]


@pytest.mark.parametrize("body,status,field", BAD_CREATES)
async def test_bad_input_is_refused_and_stores_nothing(guarded, sql, body, status, field):
    chat, token, site, _ = guarded
    got, reply = await chat.call("POST", f"/api/v1/sites/{site['id']}/webhooks", token,
                                 json=body)
    assert got == status, reply
    assert reply["error"]["field"] == field
    assert webhook_rows(sql) == []


@pytest.mark.parametrize("raw", [b"{", b"[1]", b"null", b'"x"', b'{"url": "\\ud800"}'])
async def test_malformed_bodies_are_refused(guarded, sql, raw):
    chat, token, site, _ = guarded
    got, reply = await chat.call("POST", f"/api/v1/sites/{site['id']}/webhooks", token,
                                 data=raw, headers={"Content-Type": "application/json"})
    assert got == 400 and reply["error"]["code"] == "bad_json", reply
    assert webhook_rows(sql) == []


PRIVATE_TARGETS = ["http://127.0.0.1/hook", "http://localhost:8080/hook", "http://[::1]/",
                   "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/",
                   "https://192.168.0.10/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/",
                   "http://2130706433/", "http://0x7f.1/", "http://224.0.0.1/",
                   "http://100.64.0.1/", "http://[fe80::1]/"]


@pytest.mark.parametrize("url", PRIVATE_TARGETS)
async def test_private_targets_are_refused_when_saved(guarded, sql, url):
    chat, token, site, _ = guarded
    got, reply = await chat.call("POST", f"/api/v1/sites/{site['id']}/webhooks", token,
                                 json={"url": url})
    assert got == 422 and reply["error"]["field"] == "url", reply
    assert webhook_rows(sql) == []


async def test_a_patch_to_a_private_target_changes_nothing(guarded, sql):
    chat, token, site, _ = guarded
    hook = await add_webhook(chat, token, site["id"], "https://8.8.8.8/hook")
    before = webhook_rows(sql)
    got, reply = await chat.call("PATCH", f"/api/v1/webhooks/{hook['id']}", token,
                                 json={"url": "http://127.0.0.1:9/", "enabled": False})
    assert got == 422 and reply["error"]["field"] == "url"
    got, reply = await chat.call("PATCH", f"/api/v1/webhooks/{hook['id']}", token,
                                 json={"events": []})
    assert got == 422 and reply["error"]["field"] == "events"
    assert webhook_rows(sql) == before


async def test_a_name_that_does_not_resolve_yet_is_accepted(guarded):
    """The receiver may not be deployed yet: delivery checks the address again."""
    chat, token, site, _ = guarded
    hook = await add_webhook(chat, token, site["id"], "https://hooks.example.invalid/chatiq")
    assert hook["url"] == "https://hooks.example.invalid/chatiq"


async def test_a_site_has_at_most_the_limit(guarded, sql):
    chat, token, site, _ = guarded
    for n in range(MAX_PER_SITE):
        await add_webhook(chat, token, site["id"], f"https://8.8.8.8/{n}")
    got, reply = await chat.call("POST", f"/api/v1/sites/{site['id']}/webhooks", token,
                                 json={"url": "https://8.8.8.8/one-more"})
    assert got == 409 and reply["error"]["code"] == "conflict"
    assert len(webhook_rows(sql)) == MAX_PER_SITE


def _routes(site: str, hook: str) -> list[tuple[str, str, dict | None]]:
    return [("GET", f"/api/v1/sites/{site}/webhooks", None),
            ("POST", f"/api/v1/sites/{site}/webhooks", {"url": "https://8.8.8.8/x"}),
            ("GET", f"/api/v1/webhooks/{hook}", None),
            ("PATCH", f"/api/v1/webhooks/{hook}", {"enabled": False}),
            ("DELETE", f"/api/v1/webhooks/{hook}", None),
            ("POST", f"/api/v1/webhooks/{hook}/rotate-secret", None),
            ("POST", f"/api/v1/webhooks/{hook}/test", None),
            ("GET", f"/api/v1/webhooks/{hook}/deliveries", None),
            ("POST", f"/api/v1/webhooks/{hook}/retry", {"deliveryId": "whd_1"})]


async def test_another_tenant_gets_not_found_and_changes_nothing(guarded, sql):
    chat, token, site, _ = guarded
    hook = await add_webhook(chat, token, site["id"], "https://8.8.8.8/hook")
    stranger, _ = await chat.register(organization="Evil")
    before = webhook_rows(sql)
    for method, path, body in _routes(site["id"], hook["id"]):
        got, reply = await chat.call(method, path, stranger,
                                     **({"json": body} if body is not None else {}))
        assert got == 404 and reply["error"]["code"] == "not_found", (method, path, reply)
    for ref in ("wh_999999", "wh_x", "s_1", "whatever"):
        got, _ = await chat.call("GET", f"/api/v1/webhooks/{ref}", token)
        assert got == 404
    assert webhook_rows(sql) == before
    assert sql("SELECT count(*) FROM outbox") == [(0,)]


async def test_an_operator_may_not_see_or_change_webhooks(guarded, sql):
    chat, token, site, app = guarded
    hook = await add_webhook(chat, token, site["id"], "https://8.8.8.8/hook")
    operator = await operator_token(chat, app, token, site)
    before = webhook_rows(sql)
    for method, path, body in _routes(site["id"], hook["id"]):
        got, reply = await chat.call(method, path, operator,
                                     **({"json": body} if body is not None else {}))
        assert got == 403 and reply["error"]["code"] == "forbidden", (method, path, reply)
        assert "whsec_" not in str(reply)
    assert webhook_rows(sql) == before


async def test_unauthenticated_calls_are_refused(guarded):
    chat, token, site, _ = guarded
    hook = await add_webhook(chat, token, site["id"], "https://8.8.8.8/hook")
    for method, path, body in _routes(site["id"], hook["id"]):
        got, _ = await chat.call(method, path, "forged.jwt.token",
                                 **({"json": body} if body is not None else {}))
        assert got == 401


async def test_test_event_log_and_retry(fast_config, aiohttp_client, receiver, sql):
    receiver.script = [410]
    server = Server(aiohttp_client, fast_config)
    chat = await server.start()
    token, site = await owner_with_site(chat)
    hook = await add_webhook(chat, token, site["id"], receiver.url, events=["chat.closed"])
    other = await add_webhook(chat, token, site["id"], receiver.url + "?other")

    got, body = await chat.call("POST", f"/api/v1/webhooks/{hook['id']}/test", token)
    assert got == 202 and body["delivery"]["event"] == "webhook.test"
    delivery = body["delivery"]["id"]
    await settle(lambda: sql("SELECT status FROM outbox") == [("failed",)], what="410 failure")
    got, body = await chat.call("GET", f"/api/v1/webhooks/{hook['id']}/deliveries", token)
    (shown,) = body["deliveries"]
    assert shown["status"] == "failed" and shown["lastError"] == "HTTP 410: receiver says 410"
    assert [(a["attempt"], a["ok"], a["statusCode"]) for a in shown["log"]] == [(1, False, 410)]
    got, body = await chat.call("GET", f"/api/v1/webhooks/{other['id']}/deliveries", token)
    assert body["deliveries"] == []

    # Another endpoint's delivery, an unknown one, a malformed one: not found here.
    for ref in ("whd_999999", "d_1", "", delivery.replace("whd_", "wh_")):
        got, reply = await chat.call("POST", f"/api/v1/webhooks/{other['id']}/retry", token,
                                     json={"deliveryId": ref or delivery})
        assert got == 404, (ref, reply)
    got, reply = await chat.call("POST", f"/api/v1/webhooks/{hook['id']}/retry", token,
                                 json={"deliveryId": 5})
    assert got == 422 and reply["error"]["field"] == "deliveryId"
    got, body = await chat.call("POST", f"/api/v1/webhooks/{hook['id']}/retry", token,
                                json={"deliveryId": delivery})
    assert got == 200 and body["delivery"]["status"] == "pending"
    await settle(lambda: sql("SELECT status FROM outbox") == [("sent",)], what="the retry")
    assert [g["json"]["id"] for g in receiver.got] == [delivery, delivery]
    got, reply = await chat.call("POST", f"/api/v1/webhooks/{hook['id']}/retry", token,
                                 json={"deliveryId": delivery})
    assert got == 409 and reply["error"]["code"] == "conflict"

    got, _ = await chat.call("PATCH", f"/api/v1/webhooks/{hook['id']}", token,
                             json={"enabled": False})
    got, reply = await chat.call("POST", f"/api/v1/webhooks/{hook['id']}/test", token)
    assert got == 409 and reply["error"]["code"] == "conflict"
    got, reply = await chat.call("GET", f"/api/v1/webhooks/{hook['id']}/deliveries?limit=0",
                                 token)
    assert got == 422 and reply["error"]["field"] == "limit"
    await server.stop()


async def test_the_openapi_document_lists_the_routes(guarded):
    chat, *_ = guarded
    _, doc = await chat.call("GET", "/api/v1/openapi.json")
    assert "/api/v1/sites/{id}/webhooks" in doc["paths"]
    assert "/api/v1/webhooks/{id}/retry" in doc["paths"]


def test_the_private_guard_follows_the_environment(tmp_path):
    from chatiq.config import load_config

    assert load_config(data_dir=str(tmp_path), env={}).webhooks_allow_private is False
    on = load_config(data_dir=str(tmp_path), env={"CHATIQ_WEBHOOKS_ALLOW_PRIVATE": "on"})
    assert on.webhooks_allow_private is True
    assert dataclasses.replace(on, webhooks_allow_private=False).webhooks_allow_private is False
