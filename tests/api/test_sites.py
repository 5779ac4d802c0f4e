"""Sites CRUD, settings, and tenant isolation over REST."""

import pytest

from conftest import recv_until


async def test_create_list_get_patch_delete(chat, sql):
    token, _ = await chat.register()
    site = await chat.create_site(token, name="Shop", domain="Shop.Example")
    assert site["allowedOrigins"] == ["https://shop.example", "https://www.shop.example"]
    assert site["enabled"] is True
    assert len(site["siteKey"]) >= 22
    code, listed = await chat.call("GET", "/api/v1/sites", token)
    assert [s["id"] for s in listed["sites"]] == [site["id"]]
    code, got = await chat.call("GET", f"/api/v1/sites/{site['id']}", token)
    assert got["site"] == site
    code, patched = await chat.call("PATCH", f"/api/v1/sites/{site['id']}", token, json={
        "name": "Shop 2", "allowedOrigins": ["https://a.example", "http://localhost:3000/"],
        "enabled": False})
    assert code == 200
    assert patched["site"]["allowedOrigins"] == ["https://a.example", "http://localhost:3000"]
    assert patched["site"]["name"] == "Shop 2" and patched["site"]["enabled"] is False
    assert (await chat.call("DELETE", f"/api/v1/sites/{site['id']}", token))[0] == 204
    assert sql("SELECT count(*) FROM sites")[0][0] == 0


@pytest.mark.parametrize("body,field", [
    ({}, "name"), ({"name": ""}, "name"), ({"name": 5}, "name"),
    ({"name": "x", "allowedOrigins": "https://a.example"}, "allowedOrigins"),
    ({"name": "x", "allowedOrigins": ["javascript:alert(1)"]}, "allowedOrigins[0]"),
    ({"name": "x", "domain": "not a domain"}, "domain"),
])
async def test_create_bad_input(chat, sql, body, field):
    token, _ = await chat.register()
    code, reply = await chat.call("POST", "/api/v1/sites", token, json=body)
    assert code == 422 and reply["error"]["field"] == field
    assert sql("SELECT count(*) FROM sites")[0][0] == 0


async def test_operator_cannot_create_or_edit_sites(chat, client, sql):
    from chatiq import keys
    from chatiq.core.security import hash_password
    from chatiq.store import accounts

    token, owner = await chat.register()
    site = await chat.create_site(token)
    pool = client.app[keys.POOL]
    op = await accounts.create_operator(pool, org_id=int(owner["organizationId"][2:]),
                                        email="op@example.com", name="Op",
                                        password_hash=await hash_password("operator pw", 4))
    _, login = await chat.call("POST", "/api/v1/auth/login",
                               json={"email": "op@example.com", "password": "operator pw"})
    op_token = login["token"]
    # Not given the site: it does not exist for them.
    assert (await chat.call("GET", "/api/v1/sites", op_token))[1]["sites"] == []
    assert (await chat.call("GET", f"/api/v1/sites/{site['id']}", op_token))[0] == 404
    sql("INSERT INTO site_operators (site_id, user_id) VALUES (%s, %s)", (int(site["id"][2:]), op.id))
    assert (await chat.call("GET", f"/api/v1/sites/{site['id']}", op_token))[0] == 200
    code, reply = await chat.call("PATCH", f"/api/v1/sites/{site['id']}", op_token, json={"name": "x"})
    assert code == 403 and reply["error"]["code"] == "forbidden"
    assert (await chat.call("POST", "/api/v1/sites", op_token, json={"name": "x"}))[0] == 403
    assert sql("SELECT name FROM sites") == [("Shop",)]


async def test_other_tenants_sites_are_not_found(chat, sql):
    token, _ = await chat.register()
    site = await chat.create_site(token)
    evil, _ = await chat.register(email="evil@example.com")
    for method, path, body in [
        ("GET", f"/api/v1/sites/{site['id']}", None),
        ("PATCH", f"/api/v1/sites/{site['id']}", {"name": "pwned"}),
        ("DELETE", f"/api/v1/sites/{site['id']}", None),
        ("GET", f"/api/v1/sites/{site['id']}/settings", None),
        ("PATCH", f"/api/v1/sites/{site['id']}/settings", {"color": "#000000"}),
        ("GET", f"/api/v1/chats?siteId={site['id']}", None),
        ("GET", "/api/v1/sites/s_99999", None),
        ("GET", "/api/v1/sites/not-an-id", None),
    ]:
        code, reply = await chat.call(method, path, evil, json=body)
        assert code == 404 and reply["error"]["code"] == "not_found", (method, path)
    assert sql("SELECT name FROM sites") == [("Shop",)]
    assert sql("SELECT count(*) FROM widget_settings")[0][0] == 0


async def test_settings_update_reaches_open_widgets(chat):
    token, _ = await chat.register()
    site = await chat.create_site(token)
    v = await chat.visitor_ws(site["siteKey"])
    code, reply = await chat.call("PATCH", f"/api/v1/sites/{site['id']}/settings", token, json={
        "color": "#ff0000", "position": "left", "quickReplies": ["Price?", "Delivery?"]})
    assert code == 200 and reply["settings"]["color"] == "#ff0000"
    pushed = await recv_until(v, "settings:update")
    assert pushed["data"]["settings"]["position"] == "left"
    assert pushed["data"]["settings"]["quickReplies"] == ["Price?", "Delivery?"]
    v2 = await chat.visitor_ws(site["siteKey"])
    assert v2.session["settings"]["color"] == "#ff0000"


@pytest.mark.parametrize("body,field", [
    ({"color": "red"}, "color"), ({"position": "top"}, "position"),
    ({"size": "huge"}, "size"), ({"quickReplies": [""]}, "quickReplies[0]"),
    ({"agentAvatarUrl": "javascript:alert(1)"}, "agentAvatarUrl"),
])
async def test_bad_settings_change_nothing(chat, sql, body, field):
    token, _ = await chat.register()
    site = await chat.create_site(token)
    code, reply = await chat.call("PATCH", f"/api/v1/sites/{site['id']}/settings", token, json=body)
    assert code == 422 and reply["error"]["field"] == field
    assert sql("SELECT count(*) FROM widget_settings")[0][0] == 0
