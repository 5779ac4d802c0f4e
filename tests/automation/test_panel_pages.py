"""The panel's automation, templates, hours and analytics pages: forms, CSRF, roles."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel"))

from panel_helpers import browsers  # noqa: E402,F401


async def test_owner_manages_rules_templates_hours_and_sees_analytics(browsers, sql):
    owner = browsers()
    await owner.signup()
    site = await owner.create_site("Shop")

    resp, text = await owner.get("/admin/automation")
    assert resp.status == 200 and "Shop" in text and "Add an auto-reply" in text
    resp, text = await owner.post(f"/admin/automation/{site}/rules", {
        "trigger": "no_reply", "delaySeconds": "86401", "text": "Wait"})
    assert resp.status == 422 and 'data-field="delaySeconds"' in text
    assert sql("SELECT count(*) FROM auto_replies") == [(0,)]
    resp, _ = await owner.post(f"/admin/automation/{site}/rules", {
        "trigger": "offline", "text": "We are away", "enabled": "on"})
    assert resp.status == 302
    assert sql("SELECT trigger, text, enabled FROM auto_replies") == [
        ("offline", "We are away", True)]
    (rule_id,), = sql("SELECT id FROM auto_replies")
    resp, _ = await owner.post(f"/admin/automation/rules/ar_{rule_id}", {
        "trigger": "offline", "text": "Back at 9", "delaySeconds": "0"})
    assert resp.status == 302
    assert sql("SELECT text, enabled FROM auto_replies") == [("Back at 9", False)]
    resp, _ = await owner.post(f"/admin/automation/rules/ar_{rule_id}", {"text": "x"}, csrf="bad")
    assert resp.status == 403

    resp, _ = await owner.post("/admin/templates", {"shortcut": "/price", "title": "Price",
                                                    "text": "{visitor.name}, 10 €"})
    assert resp.status == 302
    resp, text = await owner.post("/admin/templates", {"shortcut": "PRICE", "title": "Again",
                                                       "text": "x"})
    assert resp.status == 422 and "already taken" in text
    resp, text = await owner.get("/admin/templates")
    assert "/price" in text and "{visitor.name}, 10 €" in text

    resp, text = await owner.post(f"/admin/hours/{site}", {
        "enabled": "on", "timezone": "Europe/Kyiv", "mon": "09:00-13:00, 12:00-18:00"})
    assert resp.status == 422 and 'data-field="schedule.mon[1]"' in text
    assert sql("SELECT count(*) FROM business_hours") == [(0,)]
    resp, _ = await owner.post(f"/admin/hours/{site}", {
        "enabled": "on", "timezone": "Europe/Kyiv", "mon": "9:00-13:00, 14:00-18:00",
        "fri": "22:00-02:00", "exceptions": "2026-12-25\n2026-12-31 10:00-14:00"})
    assert resp.status == 302
    (schedule, exceptions), = sql("SELECT schedule, exceptions FROM business_hours")
    assert schedule["mon"] == [["09:00", "13:00"], ["14:00", "18:00"]]
    assert schedule["fri"] == [["22:00", "02:00"]]
    assert exceptions == [{"date": "2026-12-25", "intervals": []},
                          {"date": "2026-12-31", "intervals": [["10:00", "14:00"]]}]
    resp, text = await owner.get(f"/admin/hours?site={site}")
    assert "9:00" in text and 'data-testid="business-status"' in text

    resp, text = await owner.get("/admin/analytics?from=2026-01-01&to=2026-01-31")
    assert resp.status == 200 and "<svg" in text and 'data-testid="csv-link"' in text
    resp, text = await owner.get("/admin/analytics.csv?from=2026-01-01&to=2026-01-03")
    assert resp.status == 200 and text.splitlines()[0].startswith("date,chats")
    resp, text = await owner.get("/admin/analytics?from=2024-01-01&to=2026-01-31")
    assert resp.status == 422 and 'data-field="to"' in text


async def test_ukrainian_pages_and_operator_read_only(browsers, client, sql):
    owner = browsers()
    await owner.signup()
    site = await owner.create_site("Shop")
    await owner.post("/admin/language", {"lang": "uk", "next": "/admin/automation"})
    for path in ("/admin/automation", "/admin/templates", "/admin/hours", "/admin/analytics"):
        resp, text = await owner.get(path)
        assert resp.status == 200, path
    assert "Автовідповіді" in (await owner.get("/admin/automation"))[1]
    assert "Робочі години" in (await owner.get("/admin/hours"))[1]

    from chatiq import keys
    from chatiq.core.security import hash_password
    from chatiq.store import accounts
    (org_id,), = sql("SELECT id FROM organizations")
    await accounts.create_operator(client.app[keys.POOL], org_id=org_id, email="op@example.com",
                                   name="Op", password_hash=await hash_password("operator pw", 4))
    sql("INSERT INTO site_operators (site_id, user_id) SELECT %s, id FROM users"
        " WHERE email = 'op@example.com'", (int(site[2:]),))
    op = browsers()
    await op.login("op@example.com", "operator pw")
    resp, text = await op.get("/admin/automation")
    assert resp.status == 200 and "Add an auto-reply" not in text
    resp, _ = await op.post(f"/admin/automation/{site}/rules", {"trigger": "offline", "text": "x"})
    assert resp.status == 403
    resp, _ = await op.post(f"/admin/hours/{site}", {"enabled": "on"})
    assert resp.status == 403
    assert sql("SELECT count(*) FROM auto_replies") == [(0,)]
    stranger = browsers()
    await stranger.signup(email="evil@example.com")
    resp, _ = await stranger.get(f"/admin/hours?site={site}")
    assert resp.status == 404


async def test_hours_page_offers_zones_and_says_closed(browsers, sql):
    """Regression: the time zone was a bare text box, and empty days showed a "09:00-18:00"
    placeholder that looked like saved hours."""
    owner = browsers()
    await owner.signup()
    site = await owner.create_site("Shop")
    _, text = await owner.get(f"/admin/hours?site={site}")
    assert 'list="time-zones"' in text and '<option value="Europe/Kyiv">' in text
    assert '<option value="US/Eastern">' not in text  # legacy aliases left out
    assert 'data-browser-zone' in text and 'value=""' in text  # never saved: the browser's
    assert 'placeholder="closed"' in text and 'placeholder="09:00-18:00"' not in text
    resp, _ = await owner.post(f"/admin/hours/{site}", {"timezone": "Europe/Kyiv",
                                                          "mon": "09:00-18:00"})
    assert resp.status == 302
    _, text = await owner.get(f"/admin/hours?site={site}")
    assert 'value="Europe/Kyiv"' in text and "data-browser-zone" not in text
