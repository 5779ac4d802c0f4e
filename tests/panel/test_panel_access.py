"""Who reaches which panel page: strangers, OPERATORs, OWNERs and other organizations."""

from __future__ import annotations

import pytest

from chatiq.routes import PANEL_ROUTES as ROUTES
from panel_helpers import browsers, owner  # noqa: F401  (fixtures)

PAGES = ["/admin/chats", "/admin/chats/c_1", "/admin/sites", "/admin/sites/s_1/settings",
         "/admin/team", "/admin/automation", "/admin/templates", "/admin/hours",
         "/admin/analytics"]


async def _invite_operator(owner, browsers, email="op@example.com", sites=()):
    """An OPERATOR who accepted the invitation, given `sites`; returns their browser."""
    resp, text = await owner.post("/admin/team/invite", {"email": email, "name": "Op"})
    assert resp.status == 201, text
    link = text.split('id="invite-link">')[1].split("<")[0]
    op = browsers()
    path = link.split("://", 1)[1].split("/", 1)[1]
    await op.get("/" + path)
    resp, text = await op.post("/" + path, {"name": "Petro", "password": "operator pass 1"})
    assert resp.status == 302, text
    uid = None
    await owner.get("/admin/team")
    for site in sites:
        _, page = await owner.get("/admin/team")
        uid = page.split(email)[0].rsplit('data-user-id="', 1)[1].split('"')[0]
        resp, _ = await owner.post(f"/admin/sites/{site}/operators", {"operator": uid})
        assert resp.status == 302
    await op.get("/admin/chats")
    return op


async def test_every_page_sends_strangers_to_login(browsers):
    stranger = browsers()
    for path in PAGES:
        resp, _ = await stranger.get(path)
        assert resp.status == 302, path
        assert resp.headers["Location"].startswith("/admin/login?next="), path
    resp, _ = await stranger.get("/admin/api/chats/c_1/messages")
    assert resp.status == 401


async def test_every_write_needs_a_session(browsers, sql):
    stranger = browsers()
    for method, path, _, _ in ROUTES:
        if method != "POST" or path in ("/admin/login", "/admin/signup", "/admin/language",
                                        "/admin/logout", "/admin/invite/{token}",
                                        "/admin/password/forgot",
                                        "/admin/password/reset/{token}"):
            continue
        url = path.replace("{site}", "s_1")
        url = url.replace("{id}", "s_1") if "sites" in path else url.replace("{id}", "u_1")
        resp, _ = await stranger.post(url, {"name": "x", "email": "a@b.cd", "role": "OWNER"})
        if path.startswith("/admin/api/"):  # the live view's JSON calls answer, not redirect
            assert resp.status == 401, url
            continue
        assert resp.status == 302 and "/admin/login" in resp.headers["Location"], url
    assert sql("SELECT count(*) FROM sites")[0][0] == 0


async def test_first_run_leads_to_signup_then_to_the_chats(browsers):
    first = browsers()
    resp, _ = await first.get("/admin")
    assert resp.headers["Location"] == "/admin/signup"
    resp, text = await first.get("/admin/signup")
    assert "first account" in text
    await first.signup()
    resp, _ = await first.get("/admin")
    assert resp.headers["Location"] == "/admin/chats"
    other = browsers()
    resp, _ = await other.get("/admin")
    assert resp.headers["Location"] == "/admin/login"


async def test_operator_cannot_reach_owner_pages(owner, browsers, sql):
    mine = await owner.create_site("Mine")
    theirs = await owner.create_site("Not given")
    op = await _invite_operator(owner, browsers, sites=[mine])

    resp, text = await op.get("/admin/sites")
    assert resp.status == 200 and "Mine" in text and "Not given" not in text
    assert "/settings" not in text  # no link to what they cannot open
    resp, _ = await op.get(f"/admin/sites/{mine}/settings")
    assert resp.status == 403
    resp, _ = await op.get(f"/admin/sites/{theirs}/settings")
    assert resp.status == 404, "a site not given looks like no site at all"
    resp, _ = await op.post(f"/admin/sites/{mine}/settings", {"color": "#000000"})
    assert resp.status == 403
    resp, _ = await op.post("/admin/sites", {"name": "Sneaky"})
    assert resp.status == 403
    resp, _ = await op.post(f"/admin/sites/{mine}", {"name": "Renamed"})
    assert resp.status == 403
    resp, _ = await op.get("/admin/team")
    assert resp.status == 403
    resp, _ = await op.post("/admin/team/invite", {"email": "x@example.com"})
    assert resp.status == 403
    assert sql("SELECT name FROM sites ORDER BY id") == [("Mine",), ("Not given",)]
    # (sites made in the panel start with a greeting: only the operator's color must be absent)
    assert sql("SELECT count(*) FROM widget_settings WHERE settings ? 'color'")[0][0] == 0
    assert sql("SELECT count(*) FROM users")[0][0] == 2


async def test_operator_sees_only_chats_of_their_sites(owner, browsers, chat, sql):
    mine = await owner.create_site("Mine")
    theirs = await owner.create_site("Not given")
    op = await _invite_operator(owner, browsers, sites=[mine])
    keys = dict(sql("SELECT 's_' || id, site_key FROM sites"))
    v1 = await chat.visitor_ws(keys[mine])
    m1 = await chat.say(v1, "on my site")
    v2 = await chat.visitor_ws(keys[theirs])
    m2 = await chat.say(v2, "elsewhere")
    resp, text = await op.get("/admin/chats")
    assert "on my site" in text and "elsewhere" not in text
    resp, _ = await op.get(f"/admin/chats/{m1['chatId']}")
    assert resp.status == 200
    resp, _ = await op.get(f"/admin/chats/{m2['chatId']}")
    assert resp.status == 404
    resp, _ = await op.get(f"/admin/api/chats/{m2['chatId']}/messages")
    assert resp.status == 404


async def test_another_organization_gets_404_everywhere(owner, browsers, chat, sql):
    site = await owner.create_site("Acme shop")
    key = sql("SELECT site_key FROM sites")[0][0]
    visitor = await chat.visitor_ws(key)
    message = await chat.say(visitor, "private words")
    _, team = await owner.get("/admin/team")
    owner_ref = team.split('data-user-id="')[1].split('"')[0]

    rival = browsers()
    await rival.signup(organization="Rival")
    checks = [
        ("GET", f"/admin/chats/{message['chatId']}"),
        ("GET", f"/admin/api/chats/{message['chatId']}/messages"),
        ("GET", f"/admin/sites/{site}/settings"),
        ("POST", f"/admin/sites/{site}/settings"),
        ("POST", f"/admin/sites/{site}"),
        ("POST", f"/admin/sites/{site}/operators"),
        ("POST", f"/admin/team/{owner_ref}/role"),
        ("POST", f"/admin/team/{owner_ref}/reinvite"),
    ]
    for method, path in checks:
        if method == "GET":
            resp, text = await rival.get(path)
        else:
            resp, text = await rival.post(path, {"name": "Pwned", "color": "#000000",
                                                 "role": "OPERATOR"})
        assert resp.status == 404, (method, path)
        assert "private words" not in text and "Acme shop" not in text
    _, text = await rival.get("/admin/chats?filter=all")
    assert "private words" not in text
    _, text = await rival.get("/admin/sites")
    assert "Acme shop" not in text
    assert sql("SELECT name FROM sites") == [("Acme shop",)]
    assert sql("SELECT role FROM users ORDER BY id") == [("OWNER",), ("OWNER",)]


@pytest.mark.parametrize("path", ["/admin/chats", "/admin/sites", "/admin/login"])
async def test_pages_carry_a_strict_csp(owner, path):
    resp, text = await owner.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "base-uri 'none'" in csp and "form-action 'self'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"]
    assert "<script>" not in text and " style=" not in text and "onclick" not in text


async def test_an_operator_without_a_site_is_told_to_ask_never_to_create_one(owner, browsers):
    """Regression: an invited operator with no site was offered "Create your first site",
    which they may not do."""
    op = await _invite_operator(owner, browsers)
    _, text = await op.get("/admin/chats")
    assert 'data-testid="ask-for-site"' in text and "Ask your owner to give you a site" in text
    assert "Create your first site" not in text


async def test_the_invite_form_offers_the_sites(owner, browsers, sql):
    shop = await owner.create_site("Shop")
    await owner.create_site("Blog")
    _, text = await owner.get("/admin/team")
    assert f'name="site" value="{shop}" checked' in text
    resp, text = await owner.post("/admin/team/invite", {
        "email": "olha@example.com", "name": "Olha", "site": shop})
    assert resp.status == 201, text
    assert sql("SELECT s.name FROM site_operators so JOIN sites s ON s.id = so.site_id"
               " JOIN users u ON u.id = so.user_id WHERE u.email = 'olha@example.com'") == [
        ("Shop",)]
    link = text.split('id="invite-link">')[1].split("<")[0]
    op = browsers()
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    await op.get(path)
    resp, _ = await op.post(path, {"name": "Olha", "password": "operator pass 1"})
    assert resp.status == 302
    _, text = await op.get("/admin/chats")
    assert "ask-for-site" not in text and "Create your first site" not in text
