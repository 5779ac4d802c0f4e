"""`GET /widget.js` (cached, gzip, ETag) and the `/demo` page that embeds it.

The script's bytes and their gzip are computed once per file mtime, on first request.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
from dataclasses import dataclass

from aiohttp import web

from chatiq.core.resources import resource_path

# The URL is stable (no content hash in it), so browsers revalidate every few minutes and a
# deploy reaches every visitor quickly; the ETag turns most revalidations into a 304.
CACHE_CONTROL = "public, max-age=300, must-revalidate"

DEMO_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; "
            "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'")


@dataclass(frozen=True)
class _Script:
    mtime_ns: int
    raw: bytes
    gz: bytes
    etag: str


# Maps the widget file's path to its last loaded version; replaced when the mtime changes.
_cache: dict[str, _Script] = {}


def _load_script() -> _Script:
    path = resource_path("widget", "widget.js")
    mtime = path.stat().st_mtime_ns
    cached = _cache.get(str(path))
    if cached is None or cached.mtime_ns != mtime:
        raw = path.read_bytes()
        cached = _Script(mtime_ns=mtime, raw=raw, gz=gzip.compress(raw, 9),
                         etag='"' + hashlib.sha256(raw).hexdigest()[:32] + '"')
        _cache[str(path)] = cached
    return cached


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def _accepts_gzip(header: str) -> bool:
    """True unless gzip is absent or refused with q=0 (a malformed q counts as acceptance)."""
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            q = params.strip().lower()
            try:
                return not (q.startswith("q=") and float(q[2:]) == 0)
            except ValueError:
                return True
    return False


async def widget_js(request: web.Request) -> web.Response:
    script = _load_script()
    headers = {
        "ETag": script.etag,
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        "Access-Control-Allow-Origin": "*",
        "Vary": "Accept-Encoding",
    }
    if _etag_matches(request.headers.get("If-None-Match"), script.etag):
        return web.Response(status=304, headers=headers)
    body = script.raw
    if _accepts_gzip(request.headers.get("Accept-Encoding", "")):
        body = script.gz
        headers["Content-Encoding"] = "gzip"
    headers["Content-Type"] = "application/javascript; charset=utf-8"
    return web.Response(body=body, headers=headers)


_DEMO_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ChatIQ demo</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1f2937}}
code{{background:#f3f4f6;padding:.1em .3em;border-radius:4px}}
</style>
</head>
<body>
{body}
</body>
</html>
"""

_DEMO_NO_KEY = """<h1>ChatIQ demo</h1>
<p>Create a site in <a href="/admin">/admin</a>, then open <code>/demo/&lt;siteKey&gt;</code>
to try its chat widget.</p>
<p lang="uk">Створіть сайт в <a href="/admin">/admin</a>, потім відкрийте
<code>/demo/&lt;siteKey&gt;</code>, щоб спробувати його віджет чату.</p>"""

_DEMO_WITH_KEY = """<h1>ChatIQ demo</h1>
<p>This page embeds the chat widget of site <code>{key}</code>: open the bubble in the corner.</p>
<p lang="uk">Ця сторінка вбудовує віджет чату сайту <code>{key}</code>: відкрийте бульбашку в кутку.</p>
<script>window.chtq = {config};</script>
<script async src="/widget.js"></script>"""


async def favicon(request: web.Request) -> web.Response:
    """The panel's icon at the address browsers ask for on any page (the demo's included),
    instead of a 404 on every load."""
    return web.Response(body=resource_path("admin", "static", "favicon.svg").read_bytes(),
                        content_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


def _script_json(value: object) -> str:
    """JSON that cannot close the surrounding <script> element."""
    return (json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


async def demo(request: web.Request) -> web.Response:
    key = request.match_info.get("siteKey") or request.query.get("siteKey") or ""
    if key:
        config = {"siteKey": key}
        lang = request.query.get("language")
        if lang in ("uk", "en"):
            config["language"] = lang
        body = _DEMO_WITH_KEY.format(key=html.escape(key), config=_script_json(config))
    else:
        body = _DEMO_NO_KEY
    return web.Response(
        text=_DEMO_HEAD.format(body=body), content_type="text/html", charset="utf-8",
        headers={"Content-Security-Policy": DEMO_CSP, "X-Content-Type-Options": "nosniff",
                 "Cache-Control": "no-store"})
