"""`GET /widget.js` caching and compression, and the `/demo` page (no browser needed)."""

from __future__ import annotations

import gzip

from chatiq.core.resources import resource_path


async def test_widget_js_headers_gzip_and_etag(client):
    raw = resource_path("widget", "widget.js").read_bytes()
    resp = await client.get("/widget.js", headers={"Accept-Encoding": "gzip, br"},
                            auto_decompress=False)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Cache-Control"] == "public, max-age=300, must-revalidate"
    assert gzip.decompress(await resp.read()) == raw
    etag = resp.headers["ETag"]

    again = await client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag
    assert await again.read() == b""

    plain = await client.get("/widget.js", headers={"Accept-Encoding": "identity, gzip;q=0"})
    assert plain.status == 200 and "Content-Encoding" not in plain.headers
    assert await plain.read() == raw and plain.headers["ETag"] == etag

    odd = await client.get("/widget.js", headers={"Accept-Encoding": "gzip;q=x"},
                           auto_decompress=False)
    assert odd.status == 200, "a malformed q-value must not break the script"


async def test_demo_page_escapes_the_site_key_and_sets_a_csp(client):
    resp = await client.get("/demo", params={"siteKey": '</script><script>alert(1)</script>"'})
    html = await resp.text()
    assert resp.status == 200
    assert "<script>alert(1)" not in html
    assert '"siteKey": "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\\""' in html
    assert "&lt;/script&gt;" in html
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self'")
    assert '<script async src="/widget.js"></script>' in html


async def test_demo_without_a_site_key_explains_in_both_languages(client):
    resp = await client.get("/demo")
    html = await resp.text()
    assert resp.status == 200
    assert "/admin" in html and "Create a site" in html and "Створіть сайт" in html
    assert "widget.js" not in html


async def test_demo_page_has_a_favicon(client):
    """Regression: the demo page had no favicon, a 404 on every load."""
    html = await (await client.get("/demo/some-key")).text()
    assert '<link rel="icon" href="/favicon.ico" type="image/svg+xml">' in html
    icon = await client.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["Content-Type"] == "image/svg+xml"
    assert (await icon.read()).lstrip().startswith(b"<svg")
