"""The audit log (issue 9): what is recorded, that no secret ever is, and who may read it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chatiq import keys
from chatiq.store import audit, db
from privacy_helpers import Org

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel"))

from panel_helpers import browsers  # noqa: E402,F401

PASSWORD = "correct horse 1"


def _log(sql, *columns: str) -> list[tuple]:
    return sql("SELECT " + ", ".join(columns) + " FROM audit_log ORDER BY id")


async def test_api_logins_failures_and_logouts(chat, sql):
    token, user = await chat.register(email="olena@example.com")
    status, _ = await chat.call("POST", "/api/v1/auth/login",
                                json={"email": "olena@example.com", "password": "wrong pass 1"})
    assert status == 401
    status, _ = await chat.call("POST", "/api/v1/auth/login",
                                json={"email": "nobody@example.com", "password": "wrong pass 1"})
    assert status == 401
    status, body = await chat.call("POST", "/api/v1/auth/login",
                                   json={"email": "OLENA@example.com", "password": PASSWORD})
    assert status == 200
    second_token = body["token"]
    status, _ = await chat.call("POST", "/api/v1/auth/logout", second_token)
    assert status == 200
    org = int(user["organizationId"][2:])
    uid = int(user["id"][2:])
    assert _log(sql, "org_id", "actor_id", "actor_email", "action", "details") == [
        (org, uid, "olena@example.com", "auth.registered", {"via": "api"}),
        (org, uid, "olena@example.com", "auth.login_failed", {"via": "api"}),
        (None, None, "nobody@example.com", "auth.login_failed", {"via": "api"}),
        (org, uid, "olena@example.com", "auth.login", {"via": "api"}),
        (org, uid, "olena@example.com", "auth.logout", {"via": "api"}),
    ]
    assert all(ip for (ip,) in _log(sql, "ip"))
    # Neither the passwords tried nor any token are anywhere in the log.
    (everything,) = sql("SELECT string_agg(t::text, '|') FROM audit_log t")[0]
    for secret in (PASSWORD, "wrong pass 1", token, second_token, token.split(".")[2]):
        assert secret not in everything


async def test_panel_logins_roles_invitations_and_sites(browsers, sql):
    owner = browsers()
    email = await owner.signup(email="owner@example.com")
    resp, _ = await owner.post("/admin/logout", {})
    assert resp.status == 302
    resp, _ = await owner.login(email, "not the password")
    assert resp.status == 401
    resp, _ = await owner.login(email)
    assert resp.status == 302
    site = await owner.create_site("Shop")
    resp, text = await owner.post("/admin/team/invite", {"email": "op@example.com", "name": "Op"})
    assert resp.status == 201
    link = text.split('id="invite-link">')[1].split("<")[0]
    (op_id,), = sql("SELECT id FROM users WHERE email = 'op@example.com'")
    resp, _ = await owner.post(f"/admin/team/u_{op_id}/reinvite", {})
    assert resp.status == 200
    link = _.split('id="invite-link">')[1].split("<")[0]
    op = browsers()
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    await op.get(path)
    resp, _ = await op.post(path, {"name": "Petro", "password": "operator pass 1"})
    assert resp.status == 302
    resp, _ = await owner.post(f"/admin/team/u_{op_id}/role", {"role": "OWNER"})
    assert resp.status == 302
    resp, _ = await owner.post(f"/admin/team/u_{op_id}/role", {"role": "OWNER"})  # no change
    assert resp.status == 302
    assert _log(sql, "actor_email", "action", "target", "details") == [
        (email, "auth.registered", None, {"via": "panel"}),
        (email, "auth.logout", None, {"via": "panel"}),
        (email, "auth.login_failed", None, {"via": "panel"}),
        (email, "auth.login", None, {"via": "panel"}),
        (email, "site.created", site, {"name": "Shop"}),
        (email, "user.invited", f"u_{op_id}", {"email": "op@example.com"}),
        (email, "user.reinvited", f"u_{op_id}", {"email": "op@example.com"}),
        ("op@example.com", "user.invitation_accepted", None, {}),
        (email, "user.role_changed", f"u_{op_id}",
         {"email": "op@example.com", "from": "OPERATOR", "to": "OWNER"}),
    ]
    (everything,) = sql("SELECT string_agg(t::text, '|') FROM audit_log t")[0]
    assert PASSWORD not in everything and "operator pass 1" not in everything
    assert link.rsplit("/", 1)[1] not in everything  # the invitation's token


async def test_api_site_create_and_delete(chat, sql):
    token, user = await chat.register()
    site = await chat.create_site(token, name="Gone soon")
    status, _ = await chat.call("DELETE", f"/api/v1/sites/{site['id']}", token)
    assert status == 204
    assert _log(sql, "action", "target", "details")[1:] == [
        ("site.created", site["id"], {"name": "Gone soon"}),
        ("site.deleted", site["id"], {"name": "Gone soon"})]


async def test_record_takes_a_pool_a_connection_or_a_cursor(client, sql):
    pool = client.app[keys.POOL]
    await audit.record(pool, "identity.secret_rotated", org_id=None, target="s_1",
                       details={"site": "s_1"})
    async with pool.acquire() as conn:
        await audit.record(conn, "oidc.login", org_id=None, actor_email="a@example.com")
    async with db.transaction(pool) as cur:
        await audit.record(cur, "test.kept", org_id=None)
    with pytest.raises(RuntimeError):
        async with db.transaction(pool) as cur:
            await audit.record(cur, "test.rolled_back", org_id=None)
            raise RuntimeError("the caller's transaction fails")
    assert _log(sql, "action") == [("identity.secret_rotated",), ("oidc.login",), ("test.kept",)]


async def test_record_never_keeps_secrets_and_refuses_odd_action_names(client, sql):
    pool = client.app[keys.POOL]
    await audit.record(pool, "test.secrets", org_id=None, details={
        "password": "p", "newPassword": "p", "token": "t", "accessToken": "t",
        "client_secret": "s", "passwordHash": "h", "Authorization": "Bearer x",
        "email": "kept@example.com", "via": "api"})
    assert _log(sql, "details") == [({"email": "kept@example.com", "via": "api"},)]
    for bad in ("", "Auth.Login", "auth login", "auth..login", "a" * 65, "auth.login;drop",
                ".auth"):
        with pytest.raises(ValueError):
            await audit.record(pool, bad, org_id=None)
    assert sql("SELECT count(*) FROM audit_log") == [(1,)]


async def test_the_audit_api_pages_filters_and_isolates(chat, client, sql):
    org = await Org(chat, client.app).setup()
    other = await Org(chat, client.app).setup("Other")
    org_id = int(org.user["organizationId"][2:])
    pool = client.app[keys.POOL]
    for i in range(7):
        await audit.record(pool, "test.event", org_id=org_id, target=f"x_{i}")
    status, body = await chat.call("GET", "/api/v1/audit?action=test.event&limit=3", org.token)
    assert status == 200 and [e["target"] for e in body["entries"]] == ["x_6", "x_5", "x_4"]
    seen = [e["target"] for e in body["entries"]]
    while body["next"]:
        status, body = await chat.call(
            "GET", f"/api/v1/audit?action=test.event&limit=3&before={body['next']}", org.token)
        assert status == 200
        seen += [e["target"] for e in body["entries"]]
    assert seen == [f"x_{i}" for i in range(6, -1, -1)]
    status, body = await chat.call("GET", "/api/v1/audit", org.token)
    actions = {e["action"] for e in body["entries"]}
    assert {"auth.registered", "site.created", "test.event"} == actions
    entry = next(e for e in body["entries"] if e["action"] == "site.created")
    assert entry["actor"] == {"id": org.user["id"], "email": org.user["email"]}
    assert entry["target"] == org.site["id"] and entry["createdAt"].endswith("Z")
    # The other organization sees only its own.
    status, body = await chat.call("GET", "/api/v1/audit?limit=500", other.token)
    assert status == 200 and all(e["target"] != "x_1" for e in body["entries"])
    assert {e["actor"]["email"] for e in body["entries"]} == {other.user["email"]}


@pytest.mark.parametrize("query, field", [
    ("action=Auth.Login", "action"), ("action=" + "a" * 65, "action"),
    ("before=42", "before"), ("before=al_x", "before"), ("limit=0", "limit"),
    ("limit=501", "limit"), ("limit=ten", "limit"),
])
async def test_audit_api_bad_queries(chat, client, query, field):
    org = await Org(chat, client.app).setup()
    status, body = await chat.call("GET", "/api/v1/audit?" + query, org.token)
    assert status == 422 and body["error"]["field"] == field


async def test_only_owners_read_the_audit_log(chat, client):
    org = await Org(chat, client.app).setup()
    operator = await org.operator([org.site["id"]])
    status, body = await chat.call("GET", "/api/v1/audit", operator)
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert (await chat.call("GET", "/api/v1/audit"))[0] == 401


async def test_the_panel_audit_page(chat, client, browsers, sql):
    org = await Org(chat, client.app).setup()
    org_id = int(org.user["organizationId"][2:])
    for i in range(55):
        await audit.record(client.app[keys.POOL], audit.LOGIN_FAILED, org_id=org_id,
                           actor_email=f"<script>x{i}</script>@example.com")
    owner = browsers()
    await owner.login(org.user["email"])
    resp, page = await owner.get("/admin/chats")
    assert 'href="/admin/audit"' in page
    resp, page = await owner.get("/admin/audit")
    assert resp.status == 200
    # Newest first: this sign-in, then 49 of the 55 failures on the first page.
    assert page.count('data-action="auth.login_failed"') == 49
    assert page.index('data-action="auth.login"') < page.index('data-action="auth.login_failed"')
    assert "<script>x54" not in page and "&lt;script&gt;x54&lt;/script&gt;@example.com" in page
    older = page.split('data-testid="audit-older"')[0].rsplit('href="', 1)[1].split('"')[0]
    resp, page = await owner.get(older.replace("&amp;", "&"))
    assert resp.status == 200 and "x5&lt;" in page and "x6&lt;" not in page
    assert 'data-action="auth.registered"' in page and 'data-testid="audit-older"' not in page
    resp, page = await owner.get("/admin/audit?action=site.created")
    assert 'data-action="site.created"' in page and 'data-action="auth.login_failed"' not in page
    resp, page = await owner.get("/admin/audit?action=made.up&before=al_zzz")
    assert resp.status == 200  # an unknown filter shows everything

    await org.operator([org.site["id"]], email="op@example.com")
    operator = browsers()
    await operator.login("op@example.com", "operator pass 1")
    resp, page = await operator.get("/admin/chats")
    assert 'href="/admin/audit"' not in page
    resp, _ = await operator.get("/admin/audit")
    assert resp.status == 403
    anonymous = browsers()
    resp, _ = await anonymous.get("/admin/audit")
    assert resp.status == 302
