"""Panel pages for automation, quick templates, business hours and analytics.

Same rules as the REST API (the same validators): OWNERs change, OPERATORs read; a
site that is not the user's is not found. Charts are SVG drawn on the server.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from functools import partial

from aiohttp import web

from chatiq import keys
from chatiq.api.common import ApiError
from chatiq.automation import analytics as report_mod
from chatiq.automation import api as auto_api
from chatiq.automation import hours as hours_mod
from chatiq.panel import i18n
from chatiq.panel.access import require_owner, require_user
from chatiq.panel.forms import form_error
from chatiq.panel.render import redirect_with_flash, render, take_flash
from chatiq.panel.session import language
from chatiq.core.languages import texts_and_fallback
from chatiq.core.protocol import ProtocolError, clean_fields, make_id, parse_id
from chatiq.store import automation as store
from chatiq.store import db, sites
from chatiq.store.accounts import User

_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–—]\s*(\d{1,2}:\d{2})\s*$")


async def _site_choice(request: web.Request, user: User, ref: str | None = None):
    """(the user's sites, the chosen one): `?site=` or the first; NotFound for a foreign one."""
    pool = request.app[keys.POOL]
    found = await sites.sites_for(pool, user)
    ref = ref or request.query.get("site")
    if ref:
        return found, await sites.site_for(pool, user, parse_id("s", ref))
    return found, (found[0] if found else None)


# --- auto-replies ------------------------------------------------------------------

async def automation_page(request: web.Request, *, site_ref: str | None = None,
                          error: dict | None = None, form: dict | None = None,
                          status: int = 200) -> web.Response:
    user = await require_user(request)
    all_sites, site = await _site_choice(request, user, site_ref)
    rules, store_greeting = [], False
    if site is not None:
        pool = request.app[keys.POOL]
        rules = [auto_api.rule_object(r) for r in await store.rules_for_site(pool, site.id)]
        store_greeting = await store.store_greeting(pool, site.id)
    return await render(request, "automation.html", {
        "sites": all_sites, "site": site, "site_ref": make_id("s", site.id) if site else None,
        "rules": rules, "store_greeting": store_greeting, "triggers": TRIGGER_ORDER,
        "error": error, "form": form or {}, "flash": await take_flash(request)}, status=status)


TRIGGER_ORDER = ("first_message", "offline", "no_reply", "keyword")


def _rule_fields(form) -> dict:
    """The form as the API takes it: "text" (English) and "text_uk" become `texts` and the
    fallback `text`; the boxes as typed stay under "form" for a re-render."""
    delay = str(form.get("delaySeconds", "")).strip() or "0"
    typed = {"text": str(form.get("text", "")), "text_uk": str(form.get("text_uk", ""))}
    texts, fallback = texts_and_fallback(typed["text"], typed["text_uk"])
    return {"trigger": str(form.get("trigger", "")), "keyword": str(form.get("keyword", "")),
            "delaySeconds": int(delay) if re.fullmatch(r"-?\d{1,9}", delay) else delay,
            "text": fallback, "texts": texts, "enabled": form.get("enabled") == "on",
            "form": typed}



async def create_rule(request: web.Request) -> web.Response:
    user = await require_owner(request)
    site = await sites.site_for(request.app[keys.POOL], user,
                                parse_id("s", request.match_info["site"]))
    form = await request.post()
    values = _rule_fields(form)
    typed = values.pop("form")
    try:
        body = clean_fields(auto_api.RULE_CREATE, values)
        fields = auto_api.clean_rule({"trigger": body["trigger"], "keyword": body.get("keyword"),
                                      "delay_seconds": body.get("delaySeconds", 0),
                                      "text": body["text"], "texts": body["texts"],
                                      "enabled": body["enabled"]})
    except (ApiError, ProtocolError) as exc:
        return await automation_page(request, site_ref=request.match_info["site"],
                                     error=await form_error(request, exc, "rule"),
                                     form={**values, **typed}, status=422)
    await store.create_rule(request.app[keys.POOL], site.id, fields)
    request.app[keys.AUTOMATION].rules_changed(site.id)
    await redirect_with_flash(request, "automation.saved",
                              f"/admin/automation?site={make_id('s', site.id)}")


async def _owned_rule(request: web.Request) -> store.Rule:
    user = await require_owner(request)
    pool = request.app[keys.POOL]
    rule = await store.rule_by_id(pool, parse_id("ar", request.match_info["id"]))
    await sites.site_for(pool, user, rule.site_id)
    return rule


async def update_rule(request: web.Request) -> web.Response:
    rule = await _owned_rule(request)
    values = _rule_fields(await request.post())
    values.pop("form")
    values["trigger"] = rule.trigger
    try:
        body = clean_fields(auto_api.RULE_PATCH, values)
        fields = auto_api.clean_rule({"trigger": rule.trigger, "keyword": body.get("keyword"),
                                      "delay_seconds": body.get("delaySeconds", 0),
                                      "text": body.get("text", ""), "texts": body["texts"],
                                      "enabled": body["enabled"]})
        if not fields["text"]:
            raise ApiError("invalid", "'text' must not be empty", field="text")
    except (ApiError, ProtocolError) as exc:
        return await automation_page(request, site_ref=make_id("s", rule.site_id),
                                     error=await form_error(request, exc, f"rule-{rule.id}"),
                                     status=422)
    await store.update_rule(request.app[keys.POOL], rule.id, fields)
    request.app[keys.AUTOMATION].rules_changed(rule.site_id)
    await redirect_with_flash(request, "automation.saved",
                              f"/admin/automation?site={make_id('s', rule.site_id)}")


async def delete_rule(request: web.Request) -> web.Response:
    rule = await _owned_rule(request)
    await store.delete_rule(request.app[keys.POOL], rule.id)
    request.app[keys.AUTOMATION].rules_changed(rule.site_id)
    await redirect_with_flash(request, "automation.deleted",
                f"/admin/automation?site={make_id('s', rule.site_id)}")


async def save_greeting_setting(request: web.Request) -> web.Response:
    user = await require_owner(request)
    site = await sites.site_for(request.app[keys.POOL], user,
                                parse_id("s", request.match_info["site"]))
    form = await request.post()
    await store.set_store_greeting(request.app[keys.POOL], site.id,
                                   form.get("storeGreeting") == "on")
    await redirect_with_flash(request, "automation.saved",
                              f"/admin/automation?site={make_id('s', site.id)}")


# --- quick templates -----------------------------------------------------------------

async def templates_page(request: web.Request, *, error: dict | None = None,
                         form: dict | None = None, status: int = 200) -> web.Response:
    user = await require_user(request)
    pool = request.app[keys.POOL]
    all_sites = await sites.sites_for(pool, user)
    names = {make_id("s", s.id): s.name for s in all_sites}
    found = [auto_api.template_object(t) for t in await store.templates_for(pool, user)]
    return await render(request, "templates.html", {
        "templates": found, "sites": all_sites, "site_names": names,
        "variables": ["{" + v + "}" for v in ("visitor.name", "operator.name", "site.name")],
        "error": error, "form": form or {}, "flash": await take_flash(request)}, status=status)


def _template_values(form) -> dict:
    return {"shortcut": str(form.get("shortcut", "")), "title": str(form.get("title", "")),
            "text": str(form.get("text", "")), "siteId": str(form.get("siteId", ""))}


async def _save_template(request: web.Request, template: store.Template | None):
    user = await require_owner(request)
    pool = request.app[keys.POOL]
    values = _template_values(await request.post())
    form_name = "template" if template is None else f"template-{template.id}"
    try:
        body = clean_fields(auto_api.TEMPLATE_CREATE, values)
        shortcut = auto_api._shortcut(body["shortcut"])
        site_id = None
        if body.get("siteId"):
            site_id = (await sites.site_for(pool, user, parse_id("s", body["siteId"]))).id
        try:
            if template is None:
                await store.create_template(pool, org_id=user.org_id, site_id=site_id,
                                            shortcut=shortcut, title=body["title"],
                                            text=body["text"])
            else:
                await store.update_template(pool, template.id, site_id=site_id,
                                            shortcut=shortcut, title=body["title"],
                                            text=body["text"])
        except db.Conflict:
            raise ApiError("invalid", "shortcut taken", field="shortcut") from None
    except (ApiError, ProtocolError) as exc:
        error = await form_error(request, exc, form_name)
        if exc.field == "shortcut" and "taken" in exc.message:
            error["text"] = (await _translate(request, "templates.taken"))
        return await templates_page(request, error=error, form=values, status=422)
    await redirect_with_flash(request, "templates.saved", "/admin/templates")


async def _translate(request: web.Request, key: str) -> str:
    return i18n.translate(await language(request), key)


async def create_template(request: web.Request) -> web.Response:
    return await _save_template(request, None)


async def _owned_template(request: web.Request) -> store.Template:
    user = await require_owner(request)
    return await store.template_for(request.app[keys.POOL], user,
                                    parse_id("t", request.match_info["id"]))


async def update_template(request: web.Request) -> web.Response:
    return await _save_template(request, await _owned_template(request))


async def delete_template(request: web.Request) -> web.Response:
    template = await _owned_template(request)
    await store.delete_template(request.app[keys.POOL], template.id)
    await redirect_with_flash(request, "templates.deleted", "/admin/templates")


# --- business hours --------------------------------------------------------------------

def _day_text(pairs: list[list[str]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in pairs)


def _parse_ranges(text: str) -> list:
    """"09:00-13:00, 14:00-18:00" → [["09:00","13:00"], …]; a part that does not parse
    is passed on as typed, so the validator names it."""
    out = []
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        match = _RANGE.match(part)
        if match:
            out.append([t.zfill(5) for t in match.groups()])
        else:
            out.append([part.strip()])
    return out


def _parse_exceptions(text: str) -> list:
    """One per line: "2026-12-25" (closed) or "2026-12-27 10:00-14:00, 15:00-16:00"."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        day, _, rest = line.partition(" ")
        if rest.strip().lower() in ("", "closed", "зачинено"):
            out.append({"date": day, "intervals": []})
        else:
            out.append({"date": day, "intervals": _parse_ranges(rest)})
    return out


def _hours_form(hours: hours_mod.Hours) -> dict:
    data = hours.as_json()
    return {"enabled": data["enabled"], "timezone": data["timezone"],
            "days": {d: _day_text(data["schedule"][d]) for d in hours_mod.DAYS},
            "exceptions": "\n".join(
                f"{e['date']} {_day_text(e['intervals'])}" if e["intervals"] else e["date"]
                for e in data["exceptions"])}


async def hours_page(request: web.Request, *, site_ref: str | None = None,
                     error: dict | None = None, form: dict | None = None,
                     status: int = 200) -> web.Response:
    user = await require_user(request)
    all_sites, site = await _site_choice(request, user, site_ref)
    business, saved = None, True
    if site is not None and form is None:
        row = await store.hours_row(request.app[keys.POOL], site.id)
        form = _hours_form(hours_mod.hours_from_row(row))
        saved = row is not None  # never saved: the page suggests the browser's time zone
        business = await request.app[keys.AUTOMATION].business_status(site.id)
    return await render(request, "hours.html", {
        "sites": all_sites, "site": site, "site_ref": make_id("s", site.id) if site else None,
        "days": hours_mod.DAYS, "form": form or {}, "business": business, "error": error,
        "saved": saved, "zones": time_zones(), "flash": await take_flash(request)},
        status=status)


@functools.cache
def time_zones() -> tuple[str, ...]:
    """IANA zones a person would pick (Europe/Kyiv), without the legacy aliases (US/…,
    Etc/GMT+5, posixrules); UTC first."""
    zones = sorted(z for z in zoneinfo.available_timezones()
                   if "/" in z and z.split("/")[0] in _REGIONS)
    return ("UTC", *zones)


_REGIONS = {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia",
            "Europe", "Indian", "Pacific"}


async def save_hours(request: web.Request) -> web.Response:
    user = await require_owner(request)
    site = await sites.site_for(request.app[keys.POOL], user,
                                parse_id("s", request.match_info["site"]))
    posted = await request.post()
    form = {"enabled": posted.get("enabled") == "on",
            "timezone": str(posted.get("timezone", "")).strip() or "UTC",
            "days": {d: str(posted.get(d, "")) for d in hours_mod.DAYS},
            "exceptions": str(posted.get("exceptions", ""))}
    try:
        hours = hours_mod.parse_hours({
            "enabled": form["enabled"], "timezone": form["timezone"],
            "schedule": {d: _parse_ranges(form["days"][d]) for d in hours_mod.DAYS},
            "exceptions": _parse_exceptions(form["exceptions"])})
    except hours_mod.HoursError as exc:
        return await hours_page(request, site_ref=request.match_info["site"],
                                error=await form_error(request, exc, "hours"), form=form,
                                status=422)
    await store.save_hours(request.app[keys.POOL], site.id, hours.as_json())
    request.app[keys.AUTOMATION].hours_changed(site.id, hours)
    await redirect_with_flash(request, "hours.saved", f"/admin/hours?site={make_id('s', site.id)}")


# --- analytics ---------------------------------------------------------------------------

CHART_W, CHART_H = 720, 160


def bar_chart(values: list[int]) -> dict:
    """Bars scaled into a CHART_W × CHART_H box, with a few y-axis ticks."""
    top = max(values, default=0) or 1
    width = CHART_W / max(len(values), 1)
    bars = [{"x": round(i * width + width * 0.1, 2), "w": round(width * 0.8, 2),
             "h": round(v / top * CHART_H, 2), "y": round(CHART_H - v / top * CHART_H, 2),
             "v": v} for i, v in enumerate(values)]
    return {"bars": bars, "max": top, "w": CHART_W, "h": CHART_H}


def heat_cells(counts: list[list[int]]) -> list[dict]:
    top = max((max(row) for row in counts), default=0) or 1
    return [{"x": 40 + h * 26, "y": d * 22, "v": v,
             "o": round(0.08 + 0.92 * v / top, 3) if v else 0}
            for d, row in enumerate(counts) for h, v in enumerate(row)]


async def _panel_report(request: web.Request, user: User) -> report_mod.Report:
    """The API's range rules on the page's query string (`site` names the site)."""
    query = dict(request.query)
    query["siteId"] = query.pop("site", "")
    return await report_mod.build_report(request.app[keys.POOL], user, query)


def _asked(request: web.Request) -> dict:
    """What the range form showed when the page was asked for."""
    return {"picked": request.query.get("site", ""), "asked_from": request.query.get("from", ""),
            "asked_to": request.query.get("to", "")}


async def analytics_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    all_sites = await sites.sites_for(request.app[keys.POOL], user)
    try:
        report = await _panel_report(request, user)
    except ApiError as exc:
        return await render(request, "analytics.html", {
            "sites": all_sites, "data": None, **_asked(request),
            "error": await form_error(request, exc, "range")}, status=422)
    data = await report_mod.figures(request.app[keys.POOL], report)
    days = data["days"]
    csv_query = {"from": data["from"], "to": data["to"], "tz": data["timezone"]}
    if data["siteId"]:
        csv_query["site"] = data["siteId"]
    return await render(request, "analytics.html", {
        "sites": all_sites, "data": data, **_asked(request),
        "chats_chart": bar_chart([d["chats"] for d in days]),
        "messages_chart": bar_chart([d["messages"] for d in days]),
        "heat": heat_cells(data["busiestHours"]["counts"]),
        "csv": {t: str(request.app.router["panel_analytics_csv"].url_for().with_query(
            {**csv_query, "table": t})) for t in report_mod.TABLES},
        "first_day": days[0]["date"] if days else "", "last_day": days[-1]["date"] if days else "",
        "fmt": partial(fmt_seconds, await language(request)), "error": None})


async def analytics_csv(request: web.Request) -> web.Response:
    user = await require_user(request)
    try:
        report = await _panel_report(request, user)
    except ApiError:
        raise web.HTTPNotFound() from None
    table = request.query.get("table") or "days"
    if table not in report_mod.TABLES:
        raise web.HTTPNotFound()
    data = await report_mod.figures(request.app[keys.POOL], report)
    name = f"chatiq-{table}-{report.first.isoformat()}-{report.last.isoformat()}.csv"
    return web.Response(text=report_mod.to_csv(data, table), content_type="text/csv",
                        charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def fmt_seconds(lang: str, value: float | None) -> str:
    """43 → "43 s" / "43 с"; units in the panel's language."""
    if value is None:
        return "—"
    value = int(round(value))
    s, m, h = (i18n.translate(lang, "unit." + u) for u in ("s", "min", "h"))
    if value < 60:
        return f"{value} {s}"
    if value < 3600:
        return f"{value // 60} {m} {value % 60:02d} {s}"
    return f"{value // 3600} {h} {value % 3600 // 60:02d} {m}"


ROUTES = [
    ("GET", "/admin/automation", automation_page, "panel_automation"),
    ("POST", "/admin/automation/{site}/rules", create_rule, "panel_rule_create"),
    ("POST", "/admin/automation/{site}/settings", save_greeting_setting,
     "panel_automation_settings"),
    ("POST", "/admin/automation/rules/{id}", update_rule, "panel_rule_update"),
    ("POST", "/admin/automation/rules/{id}/delete", delete_rule, "panel_rule_delete"),
    ("GET", "/admin/templates", templates_page, "panel_templates"),
    ("POST", "/admin/templates", create_template, "panel_template_create"),
    ("POST", "/admin/templates/{id}", update_template, "panel_template_update"),
    ("POST", "/admin/templates/{id}/delete", delete_template, "panel_template_delete"),
    ("GET", "/admin/hours", hours_page, "panel_hours"),
    ("POST", "/admin/hours/{site}", save_hours, "panel_hours_save"),
    ("GET", "/admin/analytics", analytics_page, "panel_analytics"),
    ("GET", "/admin/analytics.csv", analytics_csv, "panel_analytics_csv"),
]
