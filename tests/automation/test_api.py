"""REST for hours, auto-replies, templates: validation, roles, tenants, openapi."""

import pytest

from automation_helpers import auto, clock, operator_token, owner_and_site  # noqa: F401

WEEKDAYS = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


async def test_hours_round_trip_with_status(auto):
    token, _, site = await owner_and_site(auto)
    code, got = await auto.call("GET", f"/api/v1/sites/{site['id']}/hours", token)
    assert code == 200 and got["hours"]["enabled"] is False
    assert got["hours"]["status"] == {"open": True, "nextOpenAt": None}
    body = {"enabled": True, "timezone": "Europe/Kyiv",
            "schedule": {**WEEKDAYS, "sat": [["22:00", "02:00"]]},
            "exceptions": [{"date": "2026-05-01", "intervals": []}]}
    code, put = await auto.call("PUT", f"/api/v1/sites/{site['id']}/hours", token, json=body)
    assert code == 200
    code, got = await auto.call("GET", f"/api/v1/sites/{site['id']}/hours", token)
    assert got == put
    assert got["hours"]["schedule"]["sat"] == [["22:00", "02:00"]]
    assert got["hours"]["schedule"]["sun"] == []
    assert got["hours"]["exceptions"] == [{"date": "2026-05-01", "intervals": []}]
    assert got["hours"]["status"] == {"open": True, "nextOpenAt": None}  # Friday 14:00 in Kyiv


@pytest.mark.parametrize("body,field", [
    ({"timezone": "Europe/Atlantis"}, "timezone"),
    ({"timezone": 7}, "timezone"),
    ({"schedule": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "schedule.mon[1]"),
    ({"schedule": {"tue": [["10:00", "10:00"]]}}, "schedule.tue[0]"),
    ({"schedule": {"wed": [["25:00", "26:00"]]}}, "schedule.wed[0]"),
    ({"schedule": [["09:00", "18:00"]]}, "schedule"),
    ({"exceptions": [{"date": "soon", "intervals": []}]}, "exceptions[0].date"),
])
async def test_bad_hours_are_invalid_and_nothing_is_stored(auto, sql, body, field):
    token, _, site = await owner_and_site(auto)
    code, reply = await auto.call("PUT", f"/api/v1/sites/{site['id']}/hours", token,
                                  json={"enabled": True, **body})
    assert code == 422 and reply["error"]["code"] == "invalid", reply
    assert reply["error"]["field"] == field
    assert sql("SELECT count(*) FROM business_hours") == [(0,)]


async def test_auto_reply_crud(auto):
    token, _, site = await owner_and_site(auto)
    base = f"/api/v1/sites/{site['id']}/auto-replies"
    code, made = await auto.call("POST", base, token, json={
        "trigger": "no_reply", "delaySeconds": 120, "text": "  Someone will be with you  "})
    assert code == 201
    rule = made["autoReply"]
    assert rule["text"] == "Someone will be with you" and rule["enabled"] is False
    assert rule["siteId"] == site["id"] and rule["id"].startswith("ar_")
    code, patched = await auto.call("PATCH", f"/api/v1/auto-replies/{rule['id']}", token,
                                    json={"enabled": True, "delaySeconds": 300})
    assert code == 200 and patched["autoReply"]["enabled"] is True
    assert patched["autoReply"]["delaySeconds"] == 300
    code, listed = await auto.call("GET", base, token)
    assert listed["autoReplies"] == [patched["autoReply"]]
    assert (await auto.call("DELETE", f"/api/v1/auto-replies/{rule['id']}", token))[0] == 204
    assert (await auto.call("GET", base, token))[1]["autoReplies"] == []


@pytest.mark.parametrize("body,field", [
    ({"trigger": "no_reply", "delaySeconds": -5, "text": "x"}, "delaySeconds"),
    ({"trigger": "no_reply", "delaySeconds": 86401, "text": "x"}, "delaySeconds"),
    ({"trigger": "no_reply", "text": "x"}, "delaySeconds"),
    ({"trigger": "keyword", "text": "x"}, "keyword"),
    ({"trigger": "keyword", "keyword": "  ", "text": "x"}, "keyword"),
    ({"trigger": "sometimes", "text": "x"}, "trigger"),
    ({"trigger": "offline", "text": "   "}, "text"),
    ({"trigger": "offline"}, "text"),
])
async def test_bad_auto_replies_are_invalid(auto, sql, body, field):
    token, _, site = await owner_and_site(auto)
    code, reply = await auto.call("POST", f"/api/v1/sites/{site['id']}/auto-replies", token,
                                  json=body)
    assert code == 422 and reply["error"]["code"] == "invalid", reply
    assert reply["error"]["field"] == field
    assert sql("SELECT count(*) FROM auto_replies") == [(0,)]


async def test_templates_crud_and_rendering(auto, sql):
    token, owner, site = await owner_and_site(auto, name="Acme Shop")
    code, made = await auto.call("POST", "/api/v1/templates", token, json={
        "shortcut": "/price", "title": "Prices",
        "text": "Hi {visitor.name}, I am {operator.name} from {site.name}. {unknown} stays."})
    assert code == 201
    template = made["template"]
    assert template["shortcut"] == "price" and template["siteId"] is None
    code, site_only = await auto.call("POST", "/api/v1/templates", token, json={
        "shortcut": "Доставка", "title": "Delivery", "text": "3 days", "siteId": site["id"]})
    assert code == 201 and site_only["template"]["siteId"] == site["id"]

    v = await auto.visitor_ws(site["siteKey"])
    message = await auto.say(v, "hello")
    code, listed = await auto.call("GET", f"/api/v1/templates?chatId={message['chatId']}", token)
    rendered = {t["shortcut"]: t["rendered"] for t in listed["templates"]}
    visitor = message["author"]["name"]
    assert rendered["price"] == f"Hi {visitor}, I am Olena from Acme Shop. {{unknown}} stays."
    assert rendered["Доставка"] == "3 days"

    code, patched = await auto.call("PATCH", f"/api/v1/templates/{template['id']}", token,
                                    json={"title": "Pricing", "siteId": site["id"]})
    assert code == 200 and patched["template"]["title"] == "Pricing"
    assert patched["template"]["siteId"] == site["id"]
    code, patched = await auto.call("PATCH", f"/api/v1/templates/{template['id']}", token,
                                    json={"siteId": ""})
    assert patched["template"]["siteId"] is None
    assert (await auto.call("DELETE", f"/api/v1/templates/{template['id']}", token))[0] == 204
    assert sql("SELECT shortcut FROM quick_templates") == [("Доставка",)]


@pytest.mark.parametrize("body,field", [
    ({"shortcut": "", "title": "t", "text": "x"}, "shortcut"),
    ({"shortcut": "/", "title": "t", "text": "x"}, "shortcut"),
    ({"shortcut": "two words", "title": "t", "text": "x"}, "shortcut"),
    ({"shortcut": "PRICE", "title": "t", "text": "x"}, "shortcut"),  # taken, any case
    ({"shortcut": "ok", "title": "", "text": "x"}, "title"),
    ({"shortcut": "ok", "title": "t", "text": ""}, "text"),
])
async def test_bad_templates_are_invalid(auto, sql, body, field):
    token, _, _ = await owner_and_site(auto)
    code, _ = await auto.call("POST", "/api/v1/templates", token,
                              json={"shortcut": "price", "title": "Prices", "text": "42"})
    assert code == 201
    code, reply = await auto.call("POST", "/api/v1/templates", token, json=body)
    assert code == 422 and reply["error"]["code"] == "invalid", reply
    assert reply["error"]["field"] == field
    assert sql("SELECT count(*) FROM quick_templates") == [(1,)]


async def test_duplicate_shortcut_on_rename_is_invalid(auto, sql):
    token, _, _ = await owner_and_site(auto)
    await auto.call("POST", "/api/v1/templates", token, json={"shortcut": "a", "title": "A",
                                                              "text": "a"})
    _, b = await auto.call("POST", "/api/v1/templates", token, json={"shortcut": "b",
                                                                     "title": "B", "text": "b"})
    code, reply = await auto.call("PATCH", f"/api/v1/templates/{b['template']['id']}", token,
                                  json={"shortcut": "/A"})
    assert code == 422 and reply["error"]["field"] == "shortcut"
    assert sorted(sql("SELECT shortcut FROM quick_templates")) == [("a",), ("b",)]


async def test_operator_reads_but_cannot_edit(auto, sql):
    token, owner, site = await owner_and_site(auto)
    other_site = await auto.create_site(token, name="Other")
    _, made = await auto.call("POST", f"/api/v1/sites/{site['id']}/auto-replies", token,
                              json={"trigger": "offline", "text": "away"})
    rule = made["autoReply"]
    await auto.call("POST", "/api/v1/templates", token,
                    json={"shortcut": "hi", "title": "Hi", "text": "Hello"})
    _, hidden = await auto.call("POST", "/api/v1/templates", token, json={
        "shortcut": "secret", "title": "S", "text": "s", "siteId": other_site["id"]})
    op = await operator_token(auto, auto.app, owner, site)

    assert (await auto.call("GET", f"/api/v1/sites/{site['id']}/hours", op))[0] == 200
    assert (await auto.call("GET", f"/api/v1/sites/{site['id']}/auto-replies", op))[0] == 200
    code, listed = await auto.call("GET", "/api/v1/templates", op)
    assert [t["shortcut"] for t in listed["templates"]] == ["hi"]  # not the other site's
    for method, path, body in [
        ("PUT", f"/api/v1/sites/{site['id']}/hours", {"enabled": False}),
        ("PATCH", f"/api/v1/sites/{site['id']}/automation", {"storeGreeting": True}),
        ("POST", f"/api/v1/sites/{site['id']}/auto-replies", {"trigger": "offline", "text": "x"}),
        ("PATCH", f"/api/v1/auto-replies/{rule['id']}", {"enabled": True}),
        ("DELETE", f"/api/v1/auto-replies/{rule['id']}", None),
        ("POST", "/api/v1/templates", {"shortcut": "x", "title": "x", "text": "x"}),
        ("PATCH", f"/api/v1/templates/{listed['templates'][0]['id']}", {"title": "x"}),
        ("DELETE", f"/api/v1/templates/{listed['templates'][0]['id']}", None),
    ]:
        code, reply = await auto.call(method, path, op, json=body)
        assert code == 403 and reply["error"]["code"] == "forbidden", (method, path)
    # The other site's rules and templates do not exist for this operator.
    assert (await auto.call("GET", f"/api/v1/sites/{other_site['id']}/hours", op))[0] == 404
    code, _ = await auto.call("PATCH", f"/api/v1/templates/{hidden['template']['id']}", op,
                              json={"title": "x"})
    assert code == 404
    assert sql("SELECT enabled FROM auto_replies") == [(False,)]
    assert sql("SELECT count(*) FROM quick_templates") == [(2,)]


async def test_other_tenants_ids_are_not_found(auto):
    token, _, site = await owner_and_site(auto)
    _, made = await auto.call("POST", f"/api/v1/sites/{site['id']}/auto-replies", token,
                              json={"trigger": "offline", "text": "away"})
    _, tpl = await auto.call("POST", "/api/v1/templates", token,
                             json={"shortcut": "hi", "title": "Hi", "text": "Hello"})
    evil, _ = await auto.register(email="evil@example.com")
    rule_id, tpl_id = made["autoReply"]["id"], tpl["template"]["id"]
    for method, path, body in [
        ("GET", f"/api/v1/sites/{site['id']}/hours", None),
        ("PUT", f"/api/v1/sites/{site['id']}/hours", {"enabled": True}),
        ("GET", f"/api/v1/sites/{site['id']}/automation", None),
        ("GET", f"/api/v1/sites/{site['id']}/auto-replies", None),
        ("POST", f"/api/v1/sites/{site['id']}/auto-replies", {"trigger": "offline", "text": "x"}),
        ("PATCH", f"/api/v1/auto-replies/{rule_id}", {"text": "pwned"}),
        ("DELETE", f"/api/v1/auto-replies/{rule_id}", None),
        ("PATCH", f"/api/v1/templates/{tpl_id}", {"text": "pwned"}),
        ("DELETE", f"/api/v1/templates/{tpl_id}", None),
        ("POST", "/api/v1/templates", {"shortcut": "x", "title": "x", "text": "x",
                                       "siteId": site["id"]}),
        ("GET", f"/api/v1/templates?siteId={site['id']}", None),
        ("GET", f"/api/v1/analytics?siteId={site['id']}", None),
        ("PATCH", "/api/v1/auto-replies/ar_99999", {"text": "x"}),
        ("PATCH", "/api/v1/templates/nonsense", {"text": "x"}),
    ]:
        code, reply = await auto.call(method, path, evil, json=body)
        assert code == 404 and reply["error"]["code"] == "not_found", (method, path, reply)


async def test_openapi_describes_the_automation_routes(auto):
    _, spec = await auto.call("GET", "/api/v1/openapi.json")
    paths = spec["paths"]
    assert set(paths["/api/v1/sites/{id}/hours"]) == {"get", "put"}
    assert set(paths["/api/v1/sites/{id}/auto-replies"]) == {"get", "post"}
    assert set(paths["/api/v1/auto-replies/{id}"]) == {"patch", "delete"}
    assert set(paths["/api/v1/templates"]) == {"get", "post"}
    assert set(paths["/api/v1/templates/{id}"]) == {"patch", "delete"}
    assert "from" in {p["name"] for p in paths["/api/v1/analytics"]["get"]["parameters"]}
