"""Transcripts (issue 10): one chat as text, HTML or JSON, from the API and the panel."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

from chatiq.privacy import transcripts
from privacy_helpers import Org, download

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel"))

from panel_helpers import browsers  # noqa: E402,F401

EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


@pytest.fixture
async def org(chat, client) -> Org:
    return await Org(chat, client.app).setup()


async def _conversation(chat, org: Org) -> list[dict]:
    op = await chat.operator_ws(org.token)
    await chat.reply(op, org.chat_id, "Hi! How can I help?\nSecond line")
    await chat.say(org.visitor, EVIL)
    await org.send_file(b"order 42\n", "order.txt")
    await op.close()
    status, body = await chat.call("GET", f"/api/v1/chats/{org.chat_id}/messages", org.token)
    assert status == 200
    return body["messages"]


async def test_text_transcript_is_an_attachment_with_every_message(chat, org):
    messages = await _conversation(chat, org)
    status, headers, body = await download(
        chat, f"/api/v1/chats/{org.chat_id}/transcript?format=txt", org.token)
    assert status == 200
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Disposition"] == f'attachment; filename="chatiq-{org.chat_id}.txt"'
    assert headers["X-Content-Type-Options"] == "nosniff"
    text = body.decode()
    assert text.startswith(f"Transcript of chat {org.chat_id}\nSite: Acme shop\n")
    assert "Olena:\n  Hi! How can I help?\n  Second line\n" in text
    assert EVIL in text  # plain text stays as typed
    assert "[Attachment: order.txt (9 B)]" in text
    assert text.count("] Visitor #") == 3 and len(messages) == 4
    # Without a format the text is what you get.
    status, _, same = await download(chat, f"/api/v1/chats/{org.chat_id}/transcript", org.token)
    assert status == 200 and same == body


async def test_html_transcript_escapes_user_text_under_a_strict_csp(chat, org):
    await _conversation(chat, org)
    sql_name = '<b onmouseover="x">Bob</b>'
    status, _ = await chat.call("PATCH", f"/api/v1/sites/{org.site['id']}", org.token,
                                json={"name": sql_name})
    assert status == 200
    status, headers, body = await download(
        chat, f"/api/v1/chats/{org.chat_id}/transcript?format=html", org.token)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Disposition"].startswith("attachment; ")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp
    page = body.decode()
    assert "<script" not in page and "<img" not in page and "<b " not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in page
    assert "&lt;b onmouseover=&quot;x&quot;&gt;Bob&lt;/b&gt;" in page
    # The one inline style is allowed by its hash, nothing else is.
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert page.rstrip().endswith("</html>")


async def test_json_transcript_matches_the_messages_api(chat, org):
    messages = await _conversation(chat, org)
    status, headers, body = await download(
        chat, f"/api/v1/chats/{org.chat_id}/transcript?format=json", org.token)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    data = json.loads(body)
    assert data["chat"]["id"] == org.chat_id and data["chat"]["siteName"] == "Acme shop"
    assert data["messages"] == messages


async def test_long_chats_stream_in_pages_and_stay_complete(chat, org, monkeypatch):
    monkeypatch.setattr(transcripts, "PAGE", 2)
    for i in range(6):
        await chat.say(org.visitor, f"line {i}")
    calls = []
    real = transcripts.chats.messages_after

    async def counted(pool, chat_id, after, limit=None):
        calls.append((after, limit))
        return await real(pool, chat_id, after, limit)

    monkeypatch.setattr(transcripts.chats, "messages_after", counted)
    status, _, body = await download(
        chat, f"/api/v1/chats/{org.chat_id}/transcript?format=json", org.token)
    assert status == 200
    assert [m["seq"] for m in json.loads(body)["messages"]] == list(range(1, 8))
    assert calls == [(0, 2), (2, 2), (4, 2), (6, 2)]
    for fmt in ("txt", "html"):
        status, _, body = await download(
            chat, f"/api/v1/chats/{org.chat_id}/transcript?format={fmt}", org.token)
        assert status == 200
        assert all(f"line {i}" in body.decode() for i in range(6))


async def test_transcript_refusals(chat, org, client):
    other = await Org(chat, client.app).setup("Other")
    path = f"/api/v1/chats/{org.chat_id}/transcript"
    status, _, body = await download(chat, path, other.token)
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    status, _, body = await download(chat, path)
    assert status == 401
    status, _, body = await download(chat, path + "?format=pdf", org.token)
    assert status == 422 and json.loads(body)["error"]["field"] == "format"
    for bad in ("c_x", "c_999999", "s_1", "c_" + "9" * 30):
        status, _, _ = await download(chat, f"/api/v1/chats/{bad}/transcript", org.token)
        assert status == 404, bad
    # An operator reaches only chats of their own sites.
    second = await chat.create_site(org.token, name="Second")
    elsewhere = await org.operator([second["id"]])
    assert (await download(chat, path, elsewhere))[0] == 404
    here = await org.operator([org.site["id"]])
    assert (await download(chat, path, here))[0] == 200


async def test_panel_chat_view_links_and_downloads_transcripts(chat, org, browsers):
    owner = browsers()
    await owner.login(org.user["email"])
    resp, page = await owner.get(f"/admin/chats/{org.chat_id}")
    assert resp.status == 200
    for fmt in ("txt", "html", "json"):
        assert f'href="/admin/chats/{org.chat_id}/transcript?format={fmt}"' in page
    await chat.say(org.visitor, EVIL)
    resp, body = await owner.get(f"/admin/chats/{org.chat_id}/transcript?format=html")
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="chatiq-{org.chat_id}.html"')
    assert "style-src 'sha256-" in resp.headers["Content-Security-Policy"]
    assert "<script" not in body and "&lt;script&gt;" in body
    resp, _ = await owner.get(f"/admin/chats/{org.chat_id}/transcript?format=exe")
    assert resp.status == 404

    stranger = browsers()
    await stranger.signup()
    resp, _ = await stranger.get(f"/admin/chats/{org.chat_id}/transcript?format=txt")
    assert resp.status == 404
    anonymous = browsers()
    resp, _ = await anonymous.get(f"/admin/chats/{org.chat_id}/transcript?format=txt")
    assert resp.status == 302 and resp.headers["Location"].startswith("/admin/login")
