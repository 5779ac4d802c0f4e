"""A site's identity secret and enforcement: the API and the panel's settings page, for
OWNERs only (CSRF on the panel's forms), never shown to operators or widgets."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from chatiq import keys
from chatiq.core.identity import sign
from chatiq.core.security import hash_password
from chatiq.store import accounts
from chatiq.store.sites import set_site_operators

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel"))

from panel_helpers import browsers, owner  # noqa: E402,F401  (fixtures)

SECRET = re.compile(r'<code id="identity-secret">([0-9a-f]{64})</code>')


@pytest.fixture
async def org(chat, client):
    token, user = await chat.register()
    site = await chat.create_site(token, domain="shop.example")
    pool = client.app[keys.POOL]
    op = await accounts.create_operator(
        pool, org_id=int(user["organizationId"][2:]), email="op@example.com", name="Op",
        password_hash=await hash_password("operator pw 1", 4))
    await set_site_operators(pool, int(site["id"][2:]), [op.id])
    _, login = await chat.call("POST", "/api/v1/auth/login",
                               json={"email": "op@example.com", "password": "operator pw 1"})
    return {"token": token, "site": site, "opToken": login["token"]}


def path(org, tail: str = "") -> str:
    return f"/api/v1/sites/{org['site']['id']}/identity{tail}"


def stored(sql):
    return sql("SELECT site_id, secret, enforce FROM site_identity ORDER BY site_id")


def audited(sql):
    return sql("SELECT action, target, details::text FROM audit_log"
               " WHERE action LIKE 'site.identity%%' ORDER BY id")


async def test_owner_gets_a_stable_secret_then_rotates_it(chat, org, sql):
    status, first = await chat.call("GET", path(org), org["token"])
    assert status == 200
    ident = first["identity"]
    assert re.fullmatch(r"[0-9a-f]{64}", ident["secret"]) and ident["enforce"] is False
    assert ident["rotatedAt"].endswith("Z")
    _, again = await chat.call("GET", path(org), org["token"])
    assert again == first
    status, rotated = await chat.call("POST", path(org, "/rotate"), org["token"])
    assert status == 200 and rotated["identity"]["secret"] != ident["secret"]
    assert rotated["identity"]["rotatedAt"] >= ident["rotatedAt"]
    assert stored(sql)[0][1] == rotated["identity"]["secret"]
    assert audited(sql) == [("site.identity_rotated", org["site"]["id"], "{}")]
    assert ident["secret"] not in str(sql("SELECT * FROM audit_log"))


async def test_owner_turns_enforcement_on_and_off(chat, org, sql):
    for on in (True, False, True):
        status, body = await chat.call("PATCH", path(org), org["token"], json={"enforce": on})
        assert status == 200 and body["identity"]["enforce"] is on
    assert stored(sql)[0][2] is True
    await chat.call("PATCH", path(org), org["token"], json={"enforce": True})  # no change
    changes = [(a, t, json.loads(d)) for a, t, d in audited(sql)]
    assert changes == [
        ("site.identity_enforcement_changed", org["site"]["id"], {"from": f, "to": t})
        for f, t in ((False, True), (True, False), (False, True))]


@pytest.mark.parametrize("body, status, code", [
    ({"enforce": "yes"}, 422, "invalid"),
    ({"enforce": 1}, 422, "invalid"),
    ({}, 422, "invalid"),
    ({"enforce": None}, 422, "invalid"),
    ([True], 400, "bad_json"),
])
async def test_a_bad_patch_is_refused_and_changes_nothing(chat, org, sql, body, status, code):
    await chat.call("GET", path(org), org["token"])
    before = stored(sql)
    got, reply = await chat.call("PATCH", path(org), org["token"], json=body)
    assert got == status and reply["error"]["code"] == code, reply
    got, reply = await chat.call("PATCH", path(org), org["token"], data=b"{not json",
                                 headers={"Content-Type": "application/json"})
    assert got == 400 and reply["error"]["code"] == "bad_json"
    assert stored(sql) == before


async def test_operators_never_see_or_change_the_secret(chat, org, sql):
    await chat.call("GET", path(org), org["token"])
    before = stored(sql)
    for method, tail, body in (("GET", "", None), ("PATCH", "", {"enforce": True}),
                               ("POST", "/rotate", None)):
        status, reply = await chat.call(method, path(org, tail), org["opToken"], json=body)
        assert status == 403 and reply["error"]["code"] == "forbidden", (method, tail)
        assert before[0][1] not in str(reply)
    assert stored(sql) == before
    # Nor through the site, the settings or the operator socket.
    op = await chat.operator_ws(org["opToken"])
    _, site = await chat.call("GET", f"/api/v1/sites/{org['site']['id']}", org["opToken"])
    _, settings = await chat.call("GET", f"/api/v1/sites/{org['site']['id']}/settings",
                                  org["opToken"])
    assert before[0][1] not in str(op.ready) + str(site) + str(settings)


async def test_another_tenant_and_strangers_get_nothing(chat, org, sql):
    await chat.call("GET", path(org), org["token"])
    before = stored(sql)
    rival, _ = await chat.register(organization="Rival")
    for method, tail, body in (("GET", "", None), ("PATCH", "", {"enforce": True}),
                               ("POST", "/rotate", None)):
        status, reply = await chat.call(method, path(org, tail), rival, json=body)
        assert status == 404 and reply["error"]["code"] == "not_found"
        status, reply = await chat.call(method, path(org, tail), None, json=body)
        assert status == 401
        status, reply = await chat.call(method, f"/api/v1/sites/s_99999/identity{tail}",
                                        org["token"], json=body)
        assert status == 404
    assert stored(sql) == before


async def test_the_widget_never_receives_the_secret(chat, org):
    _, body = await chat.call("GET", path(org), org["token"])
    secret = body["identity"]["secret"]
    v = await chat.visitor_ws(org["site"]["siteKey"],
                              user={"id": "c1", "hash": sign(secret, "c1")})
    assert v.session["identity"]["verified"] is True
    assert secret not in str(v.session)
    status, script = await chat.call("GET", "/widget.js")
    assert status == 200 and secret not in script


# --- the panel --------------------------------------------------------------------------

async def _site_page(user, site_ref: str):
    resp, text = await user.get(f"/admin/sites/{site_ref}/settings")
    return resp, text


async def test_owner_sees_copies_and_rotates_the_secret_in_the_panel(owner, sql):
    site = await owner.create_site("Shop")
    resp, text = await _site_page(owner, site)
    assert resp.status == 200
    secret = SECRET.search(text).group(1)
    assert 'data-copy="identity-secret"' in text
    assert stored(sql)[0][1] == secret
    # Without the CSRF token nothing changes.
    resp, _ = await owner.post(f"/admin/sites/{site}/identity/rotate", csrf=False)
    assert resp.status == 403
    resp, _ = await owner.post(f"/admin/sites/{site}/identity/rotate", csrf="forged")
    assert resp.status == 403
    assert stored(sql)[0][1] == secret
    resp, _ = await owner.post(f"/admin/sites/{site}/identity/rotate")
    assert resp.status == 302
    assert resp.headers["Location"].endswith(f"/admin/sites/{site}/settings#identity")
    _, text = await _site_page(owner, site)
    assert SECRET.search(text).group(1) == stored(sql)[0][1] != secret
    assert "A new identity secret was made" in text
    assert audited(sql) == [("site.identity_rotated", site, "{}")]


async def test_owner_switches_enforcement_in_the_panel(owner, sql):
    site = await owner.create_site("Shop")
    await _site_page(owner, site)
    resp, _ = await owner.post(f"/admin/sites/{site}/identity", {"enforce": "on"}, csrf=False)
    assert resp.status == 403 and stored(sql)[0][2] is False
    resp, _ = await owner.post(f"/admin/sites/{site}/identity", {"enforce": "on"})
    assert resp.status == 302 and stored(sql)[0][2] is True
    _, text = await _site_page(owner, site)
    assert re.search(r'name="enforce" value="on" checked', text)
    assert "Identity settings saved." in text
    resp, _ = await owner.post(f"/admin/sites/{site}/identity", {})
    assert resp.status == 302 and stored(sql)[0][2] is False
    assert [a for a, _, _ in audited(sql)] == ["site.identity_enforcement_changed"] * 2


async def test_the_panel_speaks_ukrainian_too(owner):
    site = await owner.create_site("Shop")
    await owner.post("/admin/language", {"lang": "uk", "next": "/admin/sites"})
    _, text = await _site_page(owner, site)
    assert "Підтверджена особа відвідувача" in text
    assert "Створити новий секрет" in text


async def test_operators_and_other_tenants_cannot_use_the_panel_forms(owner, browsers, client,
                                                                       sql):
    site = await owner.create_site("Shop")
    await _site_page(owner, site)
    before = stored(sql)
    (org_id,) = sql("SELECT org_id FROM sites")[0]
    pool = client.app[keys.POOL]
    op_user = await accounts.create_operator(
        pool, org_id=org_id, email="op@example.com", name="Op",
        password_hash=await hash_password("operator pw 1", 4))
    await set_site_operators(pool, int(site[2:]), [op_user.id])
    op = browsers()
    await op.login("op@example.com", "operator pw 1")
    rival = browsers()
    await rival.signup(organization="Rival")
    for user, status in ((op, 403), (rival, 404)):
        resp, text = await _site_page(user, site)
        assert resp.status == status and before[0][1] not in text
        for tail in ("/identity", "/identity/rotate"):
            resp, text = await user.post(f"/admin/sites/{site}{tail}", {"enforce": "on"})
            assert resp.status == status, (tail, status)
    assert stored(sql) == before and audited(sql) == []


async def test_the_chat_list_marks_verified_visitors(owner, chat, sql):
    site = await owner.create_site("Shop")
    _, text = await _site_page(owner, site)
    secret = SECRET.search(text).group(1)
    (key,) = sql("SELECT site_key FROM sites")[0]
    anon = await chat.visitor_ws(key)
    await chat.say(anon, "anonymous words")
    known = await chat.visitor_ws(key, user={"id": "c-9", "name": "Ivanna",
                                             "hash": sign(secret, "c-9")})
    said = await chat.say(known, "verified words")
    _, page = await owner.get(f"/admin/chats/{said['chatId']}?filter=all")
    assert page.count('data-verified="true"') == 1
    assert 'id="visitor-verified"' in page and "c-9" in page
    _, page = await owner.get("/admin/chats?filter=all")
    assert page.count('data-verified="true"') == 1 and 'id="visitor-verified"' not in page
