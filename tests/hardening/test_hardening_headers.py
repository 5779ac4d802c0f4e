"""Hardening (issue 9): security headers on every response class, walked from the router.

Every route the app serves is requested — anonymously and, for the panel, signed in — with
made-up ids and with real ones, plus a wrong method, an unknown path, a conditional request,
a CORS preflight and an unhandled exception. Each answer must carry a CSP that says who may
frame it, `nosniff` and a referrer policy; panel pages get a CSP without inline or eval'd
script. A new route is walked without touching this file (ids it has no real value for are
made up).
"""

from __future__ import annotations

import dataclasses
import io
import re

import aiohttp
from aiohttp import web
from PIL import Image

from chatiq.app import create_app
from conftest import ChatHelper

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
BOGUS = "zz9"
# Walked signed in only at the very end: they revoke the walker's session and API token.
SIGN_OUT = {"/admin/logout", "/api/v1/auth/logout"}
# Answers we must have seen, so the walk cannot quietly shrink: (status class or code, type).
REQUIRED = {(200, "text/html"), (200, "application/json"), (200, "application/javascript"),
            (200, "text/css"), (200, "image/png"), (304, None), (302, None), (401, None),
            (403, "text/html"), (404, "text/html"), (404, "application/json"), (405, None),
            (500, None), (422, "text/html")}


def _policy(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        tokens = part.split()
        if tokens:
            out.setdefault(tokens[0].lower(), tokens[1:])
    return out


def header_problems(label: str, resp: aiohttp.ClientResponse) -> list[str]:
    h, problems = resp.headers, []
    policy = _policy(h.get("Content-Security-Policy", ""))
    if not policy:
        problems.append(f"{label}: no Content-Security-Policy")
    elif "frame-ancestors" not in policy:
        problems.append(f"{label}: CSP without frame-ancestors: {h['Content-Security-Policy']}")
    if h.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{label}: X-Content-Type-Options is {h.get('X-Content-Type-Options')!r}")
    if not h.get("Referrer-Policy"):
        problems.append(f"{label}: no Referrer-Policy")
    if resp.content_type == "text/html" and resp.url.path.startswith("/admin"):
        scripts = policy.get("script-src", policy.get("default-src", ["*"]))
        loose = {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"}
        if loose & set(scripts):
            problems.append(f"{label}: a panel page may run loose scripts: {scripts}")
        objects = policy.get("object-src", policy.get("default-src"))
        if "base-uri" not in policy or objects not in (["'none'"], ["'self'"]):
            problems.append(f"{label}: a panel page without base-uri/object-src limits")
    return problems


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("an unexpected bug in a handler")


async def test_every_route_and_response_class_carries_the_headers(aiohttp_client, config):
    config = dataclasses.replace(config, rate_limits_enabled=False)
    app = create_app(config)
    # One handler that fails unexpectedly in each part of the URL space: aiohttp's own 500
    # page must carry the headers too.
    for prefix in ("", "/admin", "/api/v1"):
        app.router.add_get(prefix + "/__boom", _boom)
    client = await aiohttp_client(app)
    base = str(client.make_url("")).rstrip("/")
    chat = ChatHelper(client.session, base)

    # Real objects, so routes answer their success class too.
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    anon = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    seen: set[tuple[int, str]] = set()
    problems: list[str] = []
    panel_pages: set[str] = set()  # signed-in pages answered 200

    async def hit(session, method: str, path: str, label: str, **kw) -> aiohttp.ClientResponse:
        async with session.request(method, base + path, allow_redirects=False, **kw) as resp:
            body = await resp.read()
            seen.add((resp.status, resp.content_type))
            if session is browser and resp.status == 200 and resp.content_type == "text/html":
                panel_pages.add(path)
            problems.extend(header_problems(f"{label} {method} {path} → {resp.status}", resp))
            found = CSRF.search(body.decode("utf-8", "replace"))
            if found and session is browser:
                hit.csrf = found.group(1)
            return resp

    try:
        token, _ = await chat.register(email="walker@example.com")
        await hit(browser, "GET", "/admin/login", "browser")
        signed_in = await hit(browser, "POST", "/admin/login", "browser", data={
            "_csrf": hit.csrf, "email": "walker@example.com", "password": "correct horse 1"})
        assert signed_in.status == 302, signed_in.status
        site = await chat.create_site(token)
        visitor = await chat.visitor_ws(site["siteKey"])
        message = await chat.say(visitor, "hello")
        form = aiohttp.FormData()
        form.add_field("siteKey", site["siteKey"])
        form.add_field("visitorToken", visitor.session["visitorToken"])
        form.add_field("file", _png(), filename="dot.png", content_type="image/png")
        status, body = await chat.call("POST", "/api/v1/uploads", data=form)
        assert status == 201, body
        attachment = body["attachment"]
        real = {"sites": site["id"], "chats": message["chatId"], "files": attachment["id"],
                "file": attachment["name"], "automation": site["id"], "demo": site["siteKey"]}
        visitor_query = {"t": visitor.session["visitorToken"], "k": site["siteKey"]}
        api_auth = {"Authorization": f"Bearer {token}"}

        walked = 0
        deletions = []  # real objects deleted only once everything else was walked
        for route in app.router.routes():
            info = route.resource.get_info() if route.resource else {}
            if route.method == "OPTIONS":
                continue  # CORS preflights, requested below
            if "directory" in info:  # static files: a real one and a missing one
                prefix = info["prefix"].rstrip("/")
                some = next(p for p in sorted(info["directory"].rglob("*.css")))
                for session, label in ((anon, "anon"), (browser, "browser")):
                    await hit(session, "GET", f"{prefix}/{some.relative_to(info['directory'])}",
                              label)
                    await hit(session, "GET", f"{prefix}/no-such-file.css", label)
                walked += 1
                continue
            template = route.resource.canonical
            params = re.findall(r"\{(\w+)\}", template)
            for variant in ("bogus", "real"):
                path, known = template, False
                for name in params:
                    # The segment before a placeholder names its kind: /sites/{id} → a site.
                    segment = template.split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
                    value = real.get("file" if name == "name" else segment)
                    known = known or value is not None
                    if variant == "bogus" or value is None:
                        value = "x.png" if name == "name" else BOGUS
                    path = path.replace("{" + name + "}", value)
                if variant == "real" and not known:
                    break  # nothing real to put in: the bogus request said it all
                method = route.method
                query = visitor_query if path.startswith("/files/") else None
                await hit(anon, method, path, f"anon/{variant}", params=query)
                if path.startswith("/api/") and path not in SIGN_OUT:
                    if method == "DELETE" and variant == "real":  # would take the site away
                        deletions.append(path)
                    else:
                        await hit(anon, method, path, f"token/{variant}", headers=api_auth)
                if path.startswith("/admin") and method == "GET":
                    await hit(browser, method, path, f"browser/{variant}")
                elif path.startswith("/admin") and path not in SIGN_OUT:
                    await hit(browser, method, path, f"browser/{variant}",
                              data={"_csrf": hit.csrf})
                if not params:
                    break
            walked += 1
        assert walked >= 60  # every route of the API, the panel and the rest

        # Classes no single route gives: wrong method, unknown paths, conditional GET,
        # a CORS preflight, the thumbnail, and signing out.
        for path in ("/healthz", "/api/v1/sites", "/admin/chats", "/widget.js"):
            await hit(anon, "DELETE", path, "wrong method")
        for path in ("/nope", "/api/v1/nope", "/admin/nope", "/files/x"):
            await hit(anon, "GET", path, "unknown")
            await hit(browser, "GET", path, "unknown, signed in")
        etag = (await hit(anon, "GET", "/widget.js", "script")).headers["ETag"]
        await hit(anon, "GET", "/widget.js", "conditional", headers={"If-None-Match": etag})
        await hit(anon, "OPTIONS", "/api/v1/auth/login", "preflight", headers={
            "Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
        await hit(anon, "GET", attachment["thumbUrl"], "thumbnail", params=visitor_query)
        for path in sorted(deletions, key=lambda p: p.startswith("/api/v1/sites")):
            await hit(anon, "DELETE", path, "token/real", headers=api_auth)
        # Last: signing out (either way) ends the walker's session and tokens.
        await hit(browser, "POST", "/admin/logout", "browser", data={"_csrf": hit.csrf})
        await hit(anon, "POST", "/api/v1/auth/logout", "token", headers=api_auth)
    finally:
        await browser.close()
        await anon.close()

    assert not problems, "\n".join(problems)
    classes = {(status, ctype) for status, ctype in seen} | {(status, None) for status, _ in seen}
    assert REQUIRED <= classes, REQUIRED - classes
    assert {"/admin/chats", "/admin/sites", "/admin/team", f"/admin/sites/{site['id']}/settings"} \
        <= panel_pages, panel_pages
