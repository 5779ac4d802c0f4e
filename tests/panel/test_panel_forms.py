"""Forms: CSRF on every write, bad input re-rendered with a clear error and nothing stored."""

from __future__ import annotations

import json

from conftest import recv_until
from panel_helpers import browsers, owner  # noqa: F401  (fixtures)


async def test_a_write_without_the_csrf_token_is_refused(owner, sql):
    for token in (False, "forged-token"):
        resp, text = await owner.post("/admin/sites", {"name": "Shop"}, csrf=token)
        assert resp.status == 403
        assert "form expired" in text
    assert sql("SELECT count(*) FROM sites")[0][0] == 0
    resp, _ = await owner.post("/admin/sites", {"name": "Shop"})
    assert resp.status == 302
    assert sql("SELECT count(*) FROM sites")[0][0] == 1


async def test_the_csrf_header_works_for_scripts(owner, sql):
    async with owner.session.post(owner.base + "/admin/sites", data={"name": "Via header"},
                                  headers={"X-CSRF-Token": owner.csrf},
                                  allow_redirects=False) as resp:
        assert resp.status == 302
    async with owner.session.post(owner.base + "/admin/sites", data={"name": "Forged"},
                                  headers={"X-CSRF-Token": owner.csrf + "x"},
                                  allow_redirects=False) as resp:
        assert resp.status == 403
    assert sql("SELECT name FROM sites") == [("Via header",)]


async def test_login_and_signup_forms_need_the_token_too(browsers, sql):
    b = browsers()
    await b.get("/admin/signup")
    resp, _ = await b.post("/admin/signup", {"email": "a@example.com", "password": "long enough 1",
                                             "name": "A", "organization": "A"}, csrf=False)
    assert resp.status == 403
    assert sql("SELECT count(*) FROM users")[0][0] == 0


async def test_bad_signup_input_is_explained_and_stores_nothing(browsers, sql):
    b = browsers()
    await b.get("/admin/signup")
    cases = [
        ({"email": "not-an-email", "password": "long enough 1", "name": "A", "organization": "O"},
         "valid email"),
        ({"email": "a@example.com", "password": "short", "name": "A", "organization": "O"},
         "at least 8"),
        ({"email": "a@example.com", "password": "long enough 1", "name": " ", "organization": "O"},
         "Your name"),
        ({"email": "a@example.com", "password": "long enough 1", "name": "A",
          "organization": "O" * 101}, "too long"),
    ]
    for form, message in cases:
        resp, text = await b.post("/admin/signup", form)
        assert resp.status == 422, form
        assert message in text, (message, text)
        assert 'value="a@example.com"' in text or "not-an-email" in text  # kept for fixing
    assert sql("SELECT count(*) FROM users")[0][0] == 0
    assert sql("SELECT count(*) FROM organizations")[0][0] == 0


async def test_signing_up_twice_with_one_email_is_explained(owner, browsers, sql):
    b = browsers()
    await b.get("/admin/signup")
    resp, text = await b.post("/admin/signup", {"email": owner.email.upper(),
                                                "password": "long enough 1", "name": "B",
                                                "organization": "B"})
    assert resp.status == 422 and "already exists" in text
    assert sql("SELECT count(*) FROM organizations")[0][0] == 1


async def test_bad_site_input_is_explained_and_stores_nothing(owner, sql):
    resp, text = await owner.post("/admin/sites", {"name": "  ", "domain": ""})
    assert resp.status == 422 and "Enter a name" in text
    resp, text = await owner.post("/admin/sites", {"name": "Shop", "domain": "not a domain!"})
    assert resp.status == 422 and "valid host name" in text
    assert 'value="not a domain!"' in text
    assert sql("SELECT count(*) FROM sites")[0][0] == 0

    site = await owner.create_site("Shop", "shop.example")
    resp, text = await owner.post(f"/admin/sites/{site}", {
        "name": "Shop", "domain": "shop.example", "allowed_origins": "https://ok.example\nftp://x",
        "enabled": "on"})
    assert resp.status == 422 and "https://shop.example" in text
    assert "Each allowed origin must look like" in text
    assert sql("SELECT allowed_origins FROM sites") == [
        (["https://shop.example", "https://www.shop.example"],)]


async def test_site_edit_renames_disables_and_sets_origins(owner, sql):
    site = await owner.create_site("Shop", "shop.example")
    resp, _ = await owner.post(f"/admin/sites/{site}", {
        "name": "Shop <b>2</b>", "domain": "shop.example",
        "allowed_origins": "HTTPS://Shop.Example:443/\nhttps://www.shop.example"})
    assert resp.status == 302
    assert sql("SELECT name, enabled, allowed_origins FROM sites") == [
        ("Shop <b>2</b>", False, ["https://shop.example", "https://www.shop.example"])]
    _, text = await owner.get("/admin/sites")
    assert "Shop &lt;b&gt;2&lt;/b&gt;" in text and "<b>2</b>" not in text
    key = sql("SELECT site_key FROM sites")[0][0]
    assert f'window.chtq={{siteKey:&#34;{key}&#34;}};' in text
    assert "/widget.js&#34;&gt;&lt;/script&gt;" in text


async def test_bad_settings_are_explained_and_nothing_is_pushed(owner, chat, sql):
    site = await owner.create_site("Shop")
    visitor = await chat.visitor_ws(sql("SELECT site_key FROM sites")[0][0])
    base = {"color": "#123456", "secondaryColor": "#eeeeee", "position": "left",
            "size": "large", "greeting": "", "agentName": "", "agentAvatarUrl": "",
            "quickReplies": ""}
    for bad, message in [({"color": "red"}, "#4f46e5"),
                         ({"position": "top"}, "left or right"),
                         ({"agentAvatarUrl": "javascript:alert(1)"}, "http(s) URL"),
                         ({"quickReplies": "\n".join(f"q{i}" for i in range(11))}, "Up to 10"),
                         ({"greeting": "x" * 501}, "too long")]:
        resp, text = await owner.post(f"/admin/sites/{site}/settings", {**base, **bad})
        assert resp.status == 422, bad
        assert message in text, (message, bad)
    # (the site's starter greeting is there; none of the refused values are)
    assert sql("SELECT count(*) FROM widget_settings WHERE settings ? 'color'")[0][0] == 0

    resp, _ = await owner.post(f"/admin/sites/{site}/settings", {
        **base, "greeting": "Привіт!", "quickReplies": "Ціни\n\nДоставка", "showBranding": "on"})
    assert resp.status == 302
    update = await recv_until(visitor, "settings:update")
    settings = update["data"]["settings"]
    assert settings["color"] == "#123456" and settings["position"] == "left"
    assert settings["greeting"] == "Привіт!" and settings["quickReplies"] == ["Ціни", "Доставка"]
    assert settings["agentName"] is None and settings["showBranding"] is True
    stored = sql("SELECT settings FROM widget_settings")[0][0]
    stored = stored if isinstance(stored, dict) else json.loads(stored)
    assert stored["color"] == "#123456" and stored["agentName"] is None
    _, text = await owner.get(f"/admin/sites/{site}/settings")
    assert "Saved" in text and 'value="#123456"' in text
