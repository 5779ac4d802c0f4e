"""Hardening (issue 9): REST fuzzing and tenant isolation, generated from API_ROUTES.

Every route with a body spec gets random JSON bodies: never a 500, every 4xx is
{"error": {code, message}}, and a refused request stores nothing. Every route with an {id}
and every operator frame that names a chat or message answers another tenant `not_found`
and changes nothing — a new route or frame is covered without touching this file.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatiq.app import create_app
from chatiq.core.protocol import Bool, Int, List, Str, frame_specs
from chatiq.routes import API_ROUTES
from conftest import ChatHelper, request
from hardening_support import bodies, dumps, fingerprint

BODY_ROUTES = [r for r in API_ROUTES if r.body is not None]
ID_ROUTES = [r for r in API_ROUTES if "{" in r.path]
# How to fill each path's {id}: the path segment before it names the kind of object.
ID_KINDS = {"sites": "site", "chats": "chat", "auto-replies": "rule", "templates": "template",
            "visitors": "visitor_id", "webhooks": "webhook"}


def _kind(path: str) -> str:
    params = re.findall(r"\{(\w+)\}", path)
    assert params == ["id"], f"{path}: path parameters {params} — teach this test to fill them"
    segment = path.split("/{id}")[0].rsplit("/", 1)[1]
    assert segment in ID_KINDS, f"{path}: no way to make an id for '{segment}' — add it to ID_KINDS"
    return ID_KINDS[segment]


def valid_body(spec) -> dict:
    """A minimal body that passes the field checks (so only access control can refuse it)."""
    out = {}
    for name, field in spec.items():
        if not field.required:
            continue
        if isinstance(field, Str):
            out[name] = sorted(field.choices)[0] if field.choices else "hello"
        elif isinstance(field, Int):
            out[name] = max(field.minimum, 1)
        elif isinstance(field, Bool):
            out[name] = True
        elif isinstance(field, List):
            out[name] = []
        else:
            out[name] = {}
    return out


async def _org(chat: ChatHelper, name: str) -> dict:
    token, user = await chat.register(organization=name)
    site = await chat.create_site(token, name=f"{name} shop")
    visitor = await chat.visitor_ws(site["siteKey"])
    message = await chat.say(visitor, f"hi {name}")
    org = {"token": token, "user": user, "site": site["id"], "chat": message["chatId"],
           "message": message["id"], "visitor": visitor,
           "visitor_id": visitor.session["visitorId"]}
    status, body = await chat.call("POST", f"/api/v1/sites/{site['id']}/auto-replies", token,
                                   json={"trigger": "keyword", "keyword": "price",
                                         "text": "See /pricing"})
    assert status == 201, body
    org["rule"] = body["autoReply"]["id"]
    status, body = await chat.call("POST", "/api/v1/templates", token,
                                   json={"shortcut": f"hi{name.lower()}", "title": "Hi",
                                         "text": "Hello!"})
    assert status == 201, body
    org["template"] = body["template"]["id"]
    # Disabled, so no delivery changes the outbox while the fuzzers compare fingerprints.
    status, body = await chat.call("POST", f"/api/v1/sites/{site['id']}/webhooks", token,
                                   json={"url": "https://8.8.8.8/hook", "enabled": False})
    assert status == 201, body
    org["webhook"] = body["webhook"]["id"]
    return org


@pytest.fixture
async def orgs(aiohttp_client, config):
    config = dataclasses.replace(config, rate_limits_enabled=False)
    client = await aiohttp_client(create_app(config))
    chat = ChatHelper(client.session, str(client.make_url("/")))
    return chat, await _org(chat, "A"), await _org(chat, "B")


def test_every_id_route_is_known():
    """Fails loudly when a route gains a path parameter this file cannot fill."""
    assert ID_ROUTES
    for route in ID_ROUTES:
        _kind(route.path)


FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("route", BODY_ROUTES, ids=[r.name for r in BODY_ROUTES])
@FUZZ
@given(data=st.data())
async def test_rest_body_fuzz(orgs, sql, route, data):
    chat, a, b = orgs
    ids = [a[k] for k in ("site", "chat", "rule", "template", "message", "webhook")] + [
        b[k] for k in ("site", "chat", "rule", "template", "webhook")] + [
        "s_0", "t_x", "ar_99999999", "whd_1"]
    path = route.path.replace("{id}", a[_kind(route.path)]) if "{id}" in route.path else route.path
    body = data.draw(st.one_of(bodies(route.body, ids), bodies(route.body, ids),
                               st.builds(lambda base, extra: {**base, **extra},
                                         st.just(valid_body(route.body)),
                                         bodies(route.body, ids).filter(
                                             lambda v: isinstance(v, dict)))), label="body")
    raw = data.draw(st.sampled_from([None, None, None, "{", "", "[1]", '{"a":"\\ud800"}',
                                     '{"name":"\\udc00x","email":"\\ud800"}']), label="raw")
    payload = raw if raw is not None else dumps(body)
    before = fingerprint(sql)
    async with chat.session.request(
            route.method, chat.base + path, data=payload.encode("utf-8"),
            headers={"Authorization": f"Bearer {a['token']}",
                     "Content-Type": "application/json"}) as resp:
        status = resp.status
        text = await resp.text()
    assert status < 500, (route.name, payload[:300], status, text[:300])
    if status >= 400:
        err = json.loads(text)["error"]
        assert isinstance(err["code"], str) and err["code"] and isinstance(err["message"], str), text
        assert err["code"] != "internal"
        assert fingerprint(sql) == before, f"{route.name} refused {payload[:200]!r} but stored data"


def _tenant_cases():
    for route in ID_ROUTES:
        yield pytest.param(route, id=f"{route.method} {route.path}")


@pytest.mark.parametrize("route", list(_tenant_cases()))
async def test_rest_other_tenants_ids_are_not_found(orgs, sql, route):
    chat, a, b = orgs
    path = route.path.replace("{id}", a[_kind(route.path)])
    before = fingerprint(sql)
    kw = {"json": valid_body(route.body)} if route.body is not None else {}
    status, body = await chat.call(route.method, path, b["token"], **kw)
    assert status == 404, (route.method, path, status, body)
    assert body["error"]["code"] == "not_found", body
    assert fingerprint(sql) == before
    # A's owner still reaches it (the 404 was isolation, not a broken route).
    if route.method == "GET":
        status, _ = await chat.call(route.method, path, a["token"])
        assert status == 200


OPERATOR_SPECS = frame_specs(10_000)["operator"]
ID_FIELDS = {"chatId": "chat", "messageId": "message"}
# Fields that name something but are not the object being reached for.
OTHER_FIELDS = {"clientId", "attachmentId", "operatorId", "token", "text", "typing", "seq",
                "lastSeq", "status", "emoji"}
TENANT_FRAMES = sorted(t for t, spec in OPERATOR_SPECS.items() if set(spec) & set(ID_FIELDS))


def test_every_operator_frame_field_is_known():
    for ftype, spec in OPERATOR_SPECS.items():
        unknown = set(spec) - set(ID_FIELDS) - OTHER_FIELDS
        assert not unknown, f"{ftype}: fields {unknown} — teach the tenant test about them"
    assert {"chat:subscribe", "operator:message", "message:react"} <= set(TENANT_FRAMES)


@pytest.mark.parametrize("ftype", TENANT_FRAMES)
async def test_operator_frames_with_other_tenants_ids_are_not_found(orgs, sql, ftype):
    chat, a, b = orgs
    spec = OPERATOR_SPECS[ftype]
    data = valid_body(spec)
    for name in spec:
        if name in ID_FIELDS:
            data[name] = a[ID_FIELDS[name]]
    if "operatorId" in spec:
        data["operatorId"] = b["user"]["id"]
    if "text" in spec:
        data["text"] = "sneaky"
    if "seq" in spec:
        data["seq"] = 1
    op = await chat.operator_ws(b["token"])
    before = fingerprint(sql)
    reply = await request(op, ftype, data)
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found", (ftype, data, reply)
    assert fingerprint(sql) == before
    # Sanity: the same frame on B's own ids is not refused for tenancy.
    for name in spec:
        if name in ID_FIELDS:
            data[name] = b[ID_FIELDS[name]]
    data.pop("operatorId", None)
    reply = await request(op, ftype, data)
    assert not (reply["type"] == "error" and reply["data"]["code"] == "not_found"), (ftype, reply)
    await op.close()
