"""REST handlers for business hours, auto-replies and quick templates.

Tenant rules as everywhere: another organization's ids are not_found, an OPERATOR
may read but not change (forbidden).
"""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.api.common import ApiError, pool, read_json, require_owner, require_user
from chatiq.automation import hours as hours_mod
from chatiq.core.templates import clean_shortcut, render
from chatiq.core import protocol
from chatiq.core.protocol import Bool, Field, Int, List, Str, iso, make_id, parse_id
from chatiq.store import automation as store
from chatiq.store import chats, db, sites
from chatiq.store.accounts import User

MAX_DELAY_SECONDS = 24 * 3600
TRIGGERS = {"first_message", "offline", "no_reply", "keyword"}


class Obj(Field):
    """A JSON object whose inside is checked by the handler (a schedule, an exception)."""

    json_type = "an object"

    def check_type(self, value):
        return isinstance(value, dict)

    def schema(self):
        return {"type": "object"}


HOURS = {"enabled": Bool(), "timezone": Str(max_len=64, strip=True),
         "schedule": Obj(), "exceptions": List(Obj(), max_items=hours_mod.MAX_EXCEPTIONS)}
AUTOMATION_SETTINGS = {"storeGreeting": Bool()}
# The text in each language, for visitors in it; `text` serves everyone else.
TEXTS = protocol.Obj({"en": Str(max_len=2000, strip=True), "uk": Str(max_len=2000, strip=True)})
RULE_CREATE = {"trigger": Str(required=True, choices=TRIGGERS),
               "keyword": Str(max_len=100, strip=True),
               "delaySeconds": Int(minimum=0, maximum=MAX_DELAY_SECONDS),
               "text": Str(required=True, min_len=1, max_len=2000, strip=True),
               "texts": TEXTS,
               "enabled": Bool()}
RULE_PATCH = {**RULE_CREATE, "trigger": Str(choices=TRIGGERS),
              "text": Str(min_len=1, max_len=2000, strip=True)}
TEMPLATE_CREATE = {"shortcut": Str(required=True, max_len=33, strip=True),
                   "title": Str(required=True, min_len=1, max_len=100, strip=True),
                   "text": Str(required=True, min_len=1, max_len=5000),
                   "siteId": Str(max_len=64)}
TEMPLATE_PATCH = {"shortcut": Str(max_len=33, strip=True),
                  "title": Str(min_len=1, max_len=100, strip=True),
                  "text": Str(min_len=1, max_len=5000),
                  "siteId": Str(max_len=64)}


async def _site(request: web.Request, site_ref: str):
    user = await require_user(request)
    return user, await sites.site_for(pool(request), user, parse_id("s", site_ref))


# --- business hours ------------------------------------------------------------

def hours_object(hours: hours_mod.Hours, status: dict) -> dict:
    return {**hours.as_json(), "status": status}


async def get_hours(request: web.Request) -> web.Response:
    _, site = await _site(request, request.match_info["id"])
    hours = hours_mod.hours_from_row(await store.hours_row(pool(request), site.id))
    status = await request.app[keys.AUTOMATION].business_status(site.id)
    return web.json_response({"hours": hours_object(hours, status)})


async def put_hours(request: web.Request) -> web.Response:
    """Replace the site's hours; open widgets hear at once if open/closed changed."""
    user, site = await _site(request, request.match_info["id"])
    require_owner(user)
    body = await read_json(request, HOURS)
    try:
        hours = hours_mod.parse_hours(body)
    except hours_mod.HoursError as exc:
        raise ApiError("invalid", exc.message, field=exc.field) from None
    await store.save_hours(pool(request), site.id, hours.as_json())
    engine = request.app[keys.AUTOMATION]
    engine.hours_changed(site.id, hours)
    return web.json_response(
        {"hours": hours_object(hours, await engine.business_status(site.id))})


async def get_automation_settings(request: web.Request) -> web.Response:
    _, site = await _site(request, request.match_info["id"])
    value = await store.store_greeting(pool(request), site.id)
    return web.json_response({"automation": {"storeGreeting": value}})


async def patch_automation_settings(request: web.Request) -> web.Response:
    user, site = await _site(request, request.match_info["id"])
    require_owner(user)
    body = await read_json(request, AUTOMATION_SETTINGS)
    if "storeGreeting" in body:
        await store.set_store_greeting(pool(request), site.id, body["storeGreeting"])
    value = await store.store_greeting(pool(request), site.id)
    return web.json_response({"automation": {"storeGreeting": value}})


# --- auto-replies ----------------------------------------------------------------

def rule_object(rule: store.Rule) -> dict:
    return {"id": make_id("ar", rule.id), "siteId": make_id("s", rule.site_id),
            "trigger": rule.trigger, "keyword": rule.keyword,
            "delaySeconds": rule.delay_seconds, "text": rule.text, "texts": rule.texts,
            "enabled": rule.enabled, "createdAt": iso(rule.created_at)}


def _written(texts: dict | None) -> dict:
    return {lang: text for lang, text in (texts or {}).items() if text}


def clean_rule(fields: dict) -> dict:
    """Checks that span fields; `fields` holds every column, merged for a PATCH."""
    if not fields["keyword"]:
        fields["keyword"] = None
    if fields["trigger"] == "keyword" and fields["keyword"] is None:
        raise ApiError("invalid", "a keyword rule needs 'keyword'", field="keyword")
    if fields["trigger"] == "no_reply" and fields["delay_seconds"] < 1:
        raise ApiError("invalid", "a no_reply rule needs 'delaySeconds' of at least 1",
                       field="delaySeconds")
    return fields


async def list_rules(request: web.Request) -> web.Response:
    _, site = await _site(request, request.match_info["id"])
    rules = await store.rules_for_site(pool(request), site.id)
    return web.json_response({"autoReplies": [rule_object(r) for r in rules]})


async def create_rule(request: web.Request) -> web.Response:
    user, site = await _site(request, request.match_info["id"])
    require_owner(user)
    body = await read_json(request, RULE_CREATE)
    fields = clean_rule({"trigger": body["trigger"], "keyword": body.get("keyword"),
                         "delay_seconds": body.get("delaySeconds", 0), "text": body["text"],
                         "texts": _written(body.get("texts")),
                         "enabled": body.get("enabled", False)})
    rule = await store.create_rule(pool(request), site.id, fields)
    request.app[keys.AUTOMATION].rules_changed(site.id)
    return web.json_response({"autoReply": rule_object(rule)}, status=201)


async def _rule(request: web.Request) -> tuple[User, store.Rule]:
    user = await require_user(request)
    rule = await store.rule_by_id(pool(request), parse_id("ar", request.match_info["id"]))
    await sites.site_for(pool(request), user, rule.site_id)  # NotFound for other tenants
    return user, rule


async def patch_rule(request: web.Request) -> web.Response:
    user, rule = await _rule(request)
    require_owner(user)
    body = await read_json(request, RULE_PATCH)
    fields = clean_rule({
        "trigger": body.get("trigger", rule.trigger),
        "keyword": body["keyword"] if "keyword" in body else rule.keyword,
        "delay_seconds": body.get("delaySeconds", rule.delay_seconds),
        "text": body.get("text", rule.text),
        "texts": _written(body["texts"]) if "texts" in body else rule.texts,
        "enabled": body.get("enabled", rule.enabled)})
    rule = await store.update_rule(pool(request), rule.id, fields)
    request.app[keys.AUTOMATION].rules_changed(rule.site_id)
    return web.json_response({"autoReply": rule_object(rule)})


async def delete_rule(request: web.Request) -> web.Response:
    user, rule = await _rule(request)
    require_owner(user)
    await store.delete_rule(pool(request), rule.id)
    request.app[keys.AUTOMATION].rules_changed(rule.site_id)
    return web.Response(status=204)


# --- quick templates ---------------------------------------------------------------

def template_object(template: store.Template, rendered: str | None = None) -> dict:
    out = {"id": make_id("t", template.id), "siteId": make_id("s", template.site_id),
           "shortcut": template.shortcut, "title": template.title, "text": template.text,
           "createdAt": iso(template.created_at)}
    if rendered is not None:
        out["rendered"] = rendered
    return out


def _shortcut(raw: str) -> str:
    if not raw.strip().removeprefix("/"):
        raise ApiError("invalid", "'shortcut' must not be empty", field="shortcut")
    value = clean_shortcut(raw)
    if value is None:
        raise ApiError("invalid", "'shortcut' may hold letters, digits, _ and - (up to 32)",
                       field="shortcut")
    return value


async def _template_site(request: web.Request, user: User, site_ref: str | None) -> int | None:
    """The site a template is for: "" or absent means every site of the organization."""
    if not site_ref:
        return None
    return (await sites.site_for(pool(request), user, parse_id("s", site_ref))).id


async def list_templates(request: web.Request) -> web.Response:
    """GET /api/v1/templates?siteId=&chatId= (with chatId, each also comes `rendered`)."""
    user = await require_user(request)
    site_id = await _template_site(request, user, request.query.get("siteId"))
    found = await store.templates_for(pool(request), user, site_id)
    chat_ref = request.query.get("chatId")
    if not chat_ref:
        return web.json_response({"templates": [template_object(t) for t in found]})
    chat = await chats.chat_for(pool(request), user, parse_id("c", chat_ref))
    site = await sites.site_for(pool(request), user, chat["site_id"])
    visitor = chat["visitor_name"] or f"Visitor #{chat['visitor_id']}"
    return web.json_response({"templates": [
        template_object(t, render(t.text, visitor_name=visitor, operator_name=user.name,
                                  site_name=site.name))
        for t in found if t.site_id in (None, site.id)]})


async def create_template(request: web.Request) -> web.Response:
    user = await require_user(request)
    require_owner(user)
    body = await read_json(request, TEMPLATE_CREATE)
    shortcut = _shortcut(body["shortcut"])
    site_id = await _template_site(request, user, body.get("siteId"))
    try:
        template = await store.create_template(
            pool(request), org_id=user.org_id, site_id=site_id, shortcut=shortcut,
            title=body["title"], text=body["text"])
    except db.Conflict:
        raise ApiError("invalid", f"the shortcut /{shortcut} is taken", field="shortcut") from None
    return web.json_response({"template": template_object(template)}, status=201)


async def patch_template(request: web.Request) -> web.Response:
    user = await require_user(request)
    template = await store.template_for(pool(request), user,
                                        parse_id("t", request.match_info["id"]))
    require_owner(user)
    body = await read_json(request, TEMPLATE_PATCH)
    shortcut = _shortcut(body["shortcut"]) if "shortcut" in body else template.shortcut
    site_id = (await _template_site(request, user, body["siteId"]) if "siteId" in body
               else template.site_id)
    try:
        template = await store.update_template(
            pool(request), template.id, site_id=site_id, shortcut=shortcut,
            title=body.get("title", template.title), text=body.get("text", template.text))
    except db.Conflict:
        raise ApiError("invalid", f"the shortcut /{shortcut} is taken", field="shortcut") from None
    return web.json_response({"template": template_object(template)})


async def delete_template(request: web.Request) -> web.Response:
    user = await require_user(request)
    template = await store.template_for(pool(request), user,
                                        parse_id("t", request.match_info["id"]))
    require_owner(user)
    await store.delete_template(pool(request), template.id)
    return web.Response(status=204)
