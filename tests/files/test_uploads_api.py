"""POST /api/v1/uploads and GET /files/…: who may upload and fetch, what is accepted, what lands on disk."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io

import pytest
from PIL import Image

import samples
from samples import Uploads, attachment_files
from chatiq.app import create_app
from conftest import ChatHelper


@pytest.fixture
async def up(chat) -> Uploads:
    return await Uploads(chat).setup()


@pytest.fixture
def files_dir(config):
    return config.data_dir / "files"


async def test_visitor_uploads_and_fetches_an_image(up, files_dir, sql):
    content = samples.png()
    status, body = await up.as_visitor(content, "cat photo #1.png")
    assert status == 201, body
    att = body["attachment"]
    assert att["name"] == "cat photo #1.png" and att["size"] == len(content)
    assert att["mime"] == "image/png" and len(att["id"]) >= 22
    assert att["url"] == f"/files/{att['id']}/cat%20photo%20%231.png"
    assert att["thumbUrl"] == f"/files/{att['id']}/thumb"
    sha = hashlib.sha256(content).hexdigest()
    assert attachment_files(files_dir) == [f"{sha[:2]}/{sha}", f"{sha[:2]}/{sha}-thumb"]
    assert sql("SELECT uploader_kind, used, sha256 FROM attachments") == [("visitor", False, sha)]

    status, headers, data = await up.fetch(up.visitor_url(att["url"]))
    assert status == 200 and data == content
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Length"] == str(len(content))
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("sandbox")
    assert headers["Content-Disposition"] == (
        "inline; filename=\"cat photo #1.png\"; filename*=UTF-8''cat%20photo%20%231.png")


async def test_range_requests(up):
    content = samples.PDF
    _, body = await up.as_visitor(content, "report.pdf")
    url = up.visitor_url(body["attachment"]["url"])
    status, headers, data = await up.fetch(url, headers={"Range": "bytes=5-14"})
    assert status == 206 and data == content[5:15]
    assert headers["Content-Range"] == f"bytes 5-14/{len(content)}"
    assert headers["Content-Length"] == "10"


async def test_documents_download_as_attachments_with_rfc5987_names(up):
    status, body = await up.as_visitor(samples.PDF, "Звіт за 2026.pdf", content_type="text/html")
    assert status == 201 and body["attachment"]["mime"] == "application/pdf"
    assert body["attachment"]["thumbUrl"] is None
    status, headers, _ = await up.fetch(up.visitor_url(body["attachment"]["url"]))
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=\"")
    assert "filename*=UTF-8''%D0%97%D0%B2%D1%96%D1%82%20%D0%B7%D0%B0%202026.pdf" in disposition


@pytest.mark.parametrize("content, name, mime, stored_name", [
    (samples.png(), "a.png", "image/png", "a.png"),
    (samples.jpeg_with_gps(), "IMG_0001.JPG", "image/jpeg", "IMG_0001.jpg"),
    (samples.gif(), "anim.gif", "image/gif", "anim.gif"),
    (samples.webp(), "pic.webp", "image/webp", "pic.webp"),
    (samples.PDF, "doc.pdf", "application/pdf", "doc.pdf"),
    (samples.office("docx"), "letter.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "letter.docx"),
    (samples.office("xlsx"), "sheet.xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "sheet.xlsx"),
    (samples.office("pptx"), "deck.pptx",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation", "deck.pptx"),
    (samples.plain_zip(), "bundle.zip", "application/zip", "bundle.zip"),
    ("hello, світ\n".encode(), "notes.txt", "text/plain", "notes.txt"),
    (b"a,b\n1,2\n", "data.csv", "text/csv", "data.csv"),
    # The name is only a label: a missing or foreign extension gets the true one.
    (samples.png(), "photo", "image/png", "photo.png"),
    (samples.jpeg_with_gps(), "photo.png", "image/jpeg", "photo.jpg"),
    (b"echo hi\n", "run.sh", "text/plain", "run.sh.txt"),
    (samples.PDF, "invoice.pdf.exe", "application/pdf", "invoice.pdf.exe.pdf"),
])
async def test_accepted_kinds_are_typed_by_content(up, content, name, mime, stored_name):
    status, body = await up.as_visitor(content, name, content_type="application/x-msdownload")
    assert status == 201, body
    assert body["attachment"]["mime"] == mime and body["attachment"]["name"] == stored_name


@pytest.mark.parametrize("content, name, code, status", [
    (samples.MZ, "cute.png", "unsupported_type", 415),
    (samples.ELF, "cute.png", "unsupported_type", 415),
    (samples.png_zip_polyglot(), "image.png", "unsupported_type", 415),
    (samples.gif_html_polyglot(), "image.gif", "unsupported_type", 415),
    (samples.zip_bomb(), "image.png", "unsupported_type", 415),
    (samples.zip_bomb(), "bomb.zip", "unsupported_type", 415),
    (samples.plain_zip(), "image.png", "unsupported_type", 415),
    (b"", "empty.txt", "invalid", 422),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.svg",
     "unsupported_type", 415),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.txt",
     "unsupported_type", 415),
    (b"<!DOCTYPE html><script>alert(1)</script>", "page.txt", "unsupported_type", 415),
    (b"just words", "page.html", "unsupported_type", 415),
    (b"\x00\x01\x02binary", "data.txt", "unsupported_type", 415),
    (b"\xff\xfe not utf-8 \xc3", "data.txt", "unsupported_type", 415),
    (samples.png()[:300], "truncated.png", "unsupported_type", 415),
])
async def test_bad_files_are_refused_and_nothing_is_kept(up, files_dir, sql, content, name,
                                                         code, status):
    got, body = await up.as_visitor(content, name)
    assert (got, body["error"]["code"]) == (status, code), body
    assert body["error"]["message"]
    assert attachment_files(files_dir) == []
    assert sql("SELECT count(*) FROM attachments") == [(0,)]


async def test_decompression_bomb_image(up, files_dir):
    """A tiny PNG that declares a 30000×30000 canvas is refused before any pixel is decoded."""
    image = io.BytesIO()
    Image.new("1", (30000, 30000)).save(image, "PNG")
    status, body = await up.as_visitor(image.getvalue(), "huge.png")
    assert status == 413 and body["error"]["code"] == "too_large"
    assert attachment_files(files_dir) == []


@pytest.mark.parametrize("name, stored", [
    ("../../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
    ("/abs/path/notes.txt", "notes.txt"),
    ("\u202etxt.exe", "txt.exe.txt"),   # right-to-left override dropped
    ("..", "file.txt"),
    ("", "file.txt"),
    ('a<b>:"c"|?*.txt', "a_b___c____.txt"),
])
async def test_names_are_sanitized(up, files_dir, config, name, stored):
    before = sorted(p.name for p in config.data_dir.iterdir())
    status, body = await up.as_visitor(b"plain words\n", name)
    assert status == 201, body
    assert body["attachment"]["name"] == stored
    sha = hashlib.sha256(b"plain words\n").hexdigest()
    assert attachment_files(files_dir) == [f"{sha[:2]}/{sha}"]
    # Nothing appeared anywhere in the data dir but the files dir.
    assert sorted(p.name for p in config.data_dir.iterdir()) == sorted({*before, "files"})


async def test_long_names_are_cut_keeping_the_extension(up):
    status, body = await up.as_visitor(b"words\n", "ж" * 500 + ".txt")
    assert status == 201
    name = body["attachment"]["name"]
    assert name.endswith(".txt") and len(name.encode()) <= 200


async def test_thumbnail_is_small_upright_and_has_no_exif(up):
    original = samples.jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif()[0x010F] == "SpyCam"
    _, body = await up.as_visitor(original, "holiday.jpg")
    status, headers, data = await up.fetch(up.visitor_url(body["attachment"]["thumbUrl"]))
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert headers["Content-Disposition"].startswith("inline")
    thumb = Image.open(io.BytesIO(data))
    assert max(thumb.size) <= 320
    assert thumb.size[1] > thumb.size[0]  # orientation 6 applied: the landscape stands up
    assert len(thumb.getexif()) == 0 and b"SpyCam" not in data and "icc_profile" not in thumb.info


async def test_transparent_images_get_png_previews(up):
    _, body = await up.as_visitor(samples.png(mode="RGBA", color=(0, 0, 0, 0)), "logo.png")
    status, headers, data = await up.fetch(up.visitor_url(body["attachment"]["thumbUrl"]))
    assert status == 200 and headers["Content-Type"] == "image/png"


async def test_same_bytes_uploaded_concurrently_are_stored_once(up, files_dir, sql):
    content = samples.png((300, 200))
    replies = await asyncio.gather(*(up.as_visitor(content, f"copy{i}.png") for i in range(8)))
    assert [status for status, _ in replies] == [201] * 8
    ids = {body["attachment"]["id"] for _, body in replies}
    assert len(ids) == 8
    sha = hashlib.sha256(content).hexdigest()
    assert attachment_files(files_dir) == [f"{sha[:2]}/{sha}", f"{sha[:2]}/{sha}-thumb"]
    assert sql("SELECT count(DISTINCT sha256), count(*) FROM attachments") == [(1, 8)]
    for _, body in replies:
        status, _, data = await up.fetch(up.visitor_url(body["attachment"]["url"]))
        assert status == 200 and data == content


async def test_operator_uploads_for_a_chat_of_their_site(up, files_dir):
    chat_id = await up.open_chat()
    status, body = await up.as_operator(samples.PDF, "terms.pdf", chat_id)
    assert status == 201, body
    status, _, data = await up.fetch(body["attachment"]["url"], up.owner_token)
    assert status == 200 and data == samples.PDF
    # Unsent: only its uploader can fetch it, not the chat's visitor.
    status, _, _ = await up.fetch(up.visitor_url(body["attachment"]["url"]))
    assert status == 404


async def test_a_named_chat_must_be_one_they_can_reach(up, chat, files_dir):
    chat_id = await up.open_chat()
    status, body = await up.as_operator(samples.PDF, "a.pdf", "c_999999")
    assert status == 404 and body["error"]["code"] == "not_found"
    stranger, _ = await chat.register(organization="Other Inc")
    status, body = await up.as_operator(samples.PDF, "a.pdf", chat_id, token=stranger)
    assert status == 404 and body["error"]["code"] == "not_found"
    assert attachment_files(files_dir) == []


@pytest.mark.parametrize("fields, headers", [
    ({}, {}),
    ({"siteKey": "nope", "visitorToken": "x"}, {}),
    ({"visitorToken": "forged"}, {}),
    ({}, {"Authorization": "Bearer not-a-jwt"}),
    ({}, {"Authorization": "Basic dXNlcjpwYXNz"}),
])
async def test_missing_or_wrong_credentials_are_401(up, files_dir, fields, headers):
    if "visitorToken" in fields and "siteKey" not in fields:
        fields = {"siteKey": up.site["siteKey"], **fields}
    data = samples.form(samples.png(), "a.png", **fields)
    status, body = await up.chat.call("POST", "/api/v1/uploads", data=data, headers=headers)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert attachment_files(files_dir) == []


async def test_visitor_fields_must_come_before_the_file(up, files_dir):
    import aiohttp
    data = aiohttp.FormData()
    data.add_field("file", samples.png(), filename="a.png")
    data.add_field("siteKey", up.site["siteKey"])
    data.add_field("visitorToken", up.visitor_token)
    status, body = await up.chat.call("POST", "/api/v1/uploads", data=data)
    assert status == 401 and "before the file" in body["error"]["message"]
    assert attachment_files(files_dir) == []


async def test_disabled_site_and_foreign_origin_are_refused(up, chat, files_dir):
    site = await chat.create_site(up.owner_token, name="Guarded",
                                  allowedOrigins=["https://shop.example"])
    visitor = await chat.visitor_ws(site["siteKey"])
    fields = {"siteKey": site["siteKey"], "visitorToken": visitor.session["visitorToken"]}
    data = samples.form(samples.png(), "a.png", **fields)
    status, body = await chat.call("POST", "/api/v1/uploads", data=data,
                                   headers={"Origin": "https://evil.example"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    data = samples.form(samples.png(), "a.png", **fields)
    status, _ = await chat.call("POST", "/api/v1/uploads", data=data,
                                headers={"Origin": "https://shop.example"})
    assert status == 201
    await chat.call("PATCH", f"/api/v1/sites/{site['id']}", up.owner_token, json={"enabled": False})
    data = samples.form(samples.png(), "b.png", **fields)
    status, body = await chat.call("POST", "/api/v1/uploads", data=data)
    assert status == 401


async def test_not_multipart_and_no_file(up):
    status, body = await up.chat.call("POST", "/api/v1/uploads", json={"file": "x"})
    assert status == 415 and body["error"]["code"] == "invalid"
    import aiohttp
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value in up.visitor_fields().items():
        data.add_field(name, value)
    data.add_field("other", "x")
    status, body = await up.chat.call("POST", "/api/v1/uploads", data=data)
    assert status == 422 and body["error"]["field"] == "file"


async def test_two_files_in_one_upload_are_refused(up, files_dir):
    data = samples.form(samples.png(), "a.png", **up.visitor_fields())
    data.add_field("file", samples.PDF, filename="b.pdf")
    status, body = await up.chat.call("POST", "/api/v1/uploads", data=data)
    assert status == 422 and "one file" in body["error"]["message"]
    assert attachment_files(files_dir) == []


async def test_fetch_needs_credentials_and_participation(up, chat):
    _, body = await up.as_visitor(samples.png(), "mine.png")
    url = body["attachment"]["url"]
    status, _, _ = await up.fetch(url)
    assert status == 401
    status, _, _ = await up.fetch(url + "?t=forged&k=" + up.site["siteKey"])
    assert status == 401
    status, _, _ = await up.fetch(url, "bad.jwt.token")
    assert status == 401
    # Not yet sent: not even the site's owner sees it; another visitor of the site neither.
    status, _, _ = await up.fetch(url, up.owner_token)
    assert status == 404
    other = await chat.visitor_ws(up.site["siteKey"])
    status, _, _ = await up.fetch(up.visitor_url(url, other))
    assert status == 404
    status, _, _ = await up.fetch(up.visitor_url(f"/files/{'x' * 32}/nope.png"))
    assert status == 404


async def test_limit_is_configurable_and_cut_at_one_byte_over(aiohttp_client, config):
    app = create_app(dataclasses.replace(config, upload_limit_bytes=1000))
    client = await aiohttp_client(app)
    up = await Uploads(ChatHelper(client.session, str(client.make_url("/")))).setup()
    status, _ = await up.as_visitor(b"a" * 1000, "fits.txt")
    assert status == 201
    status, body = await up.as_visitor(b"a" * 1001, "over.txt")
    assert status == 413 and body["error"]["code"] == "too_large"
    sha = hashlib.sha256(b"a" * 1000).hexdigest()
    assert attachment_files(config.data_dir / "files") == [f"{sha[:2]}/{sha}"]


async def test_huge_body_is_answered_without_being_read(aiohttp_client, config):
    """The server must answer 413 once it has limit + 1 bytes, not wait for the rest:
    the body generator below stalls after a little more than the limit and would hang
    a server that reads everything first."""
    limit = 256 * 1024
    app = create_app(dataclasses.replace(config, upload_limit_bytes=limit))
    client = await aiohttp_client(app)
    up = await Uploads(ChatHelper(client.session, str(client.make_url("/")))).setup()
    boundary = "chatiqtestboundary"
    sent = 0
    finish = asyncio.Event()

    async def body():
        nonlocal sent
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"siteKey\"\r\n\r\n"
               f"{up.site['siteKey']}\r\n--{boundary}\r\nContent-Disposition: form-data; "
               f"name=\"visitorToken\"\r\n\r\n{up.visitor_token}\r\n--{boundary}\r\n"
               "Content-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n"
               "Content-Type: text/plain\r\n\r\n").encode()
        while True:  # an endless file, unless the server stops us
            chunk = b"a" * 16384
            sent += len(chunk)
            yield chunk
            if sent > limit + 4 * len(chunk):
                await finish.wait()
                return

    resp = await asyncio.wait_for(client.post(
        "/api/v1/uploads", data=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}), timeout=10)
    try:
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "too_large"
        assert resp.headers.get("Connection", "").lower() == "close"
        assert not finish.is_set() and sent <= limit + 5 * 16384
    finally:
        finish.set()
        resp.close()
    assert attachment_files(config.data_dir / "files") == []


@pytest.mark.parametrize("raw_name", [b"evil\x00.exe.txt", b"two\x1b[31mlines.txt",
                                      b"split\r\nX-Injected: 1.txt"])
async def test_control_characters_in_raw_names_are_refused(up, files_dir, raw_name):
    body, headers = samples.raw_form(up.visitor_fields(), raw_name, b"words\n")
    status, reply = await up.chat.call("POST", "/api/v1/uploads", data=body, headers=headers)
    # A control character breaks the part's header (400); a CRLF splits it, and the
    # broken part then carries no file (422). Either way: a clear error, nothing stored.
    assert status in (400, 422) and reply["error"]["code"] == "invalid", reply
    assert reply["error"]["field"] == "file"
    assert attachment_files(files_dir) == []


@pytest.mark.parametrize("raw_name, stored", [
    (b"%2E%2E%2Fescape.txt", "%2E%2E%2Fescape.txt"),
    (b"caf\xc3\xa9.txt", "caf\u00e9.txt"),
])
async def test_hostile_raw_names_are_sanitized(up, files_dir, raw_name, stored):
    body, headers = samples.raw_form(up.visitor_fields(), raw_name, b"words\n")
    status, reply = await up.chat.call("POST", "/api/v1/uploads", data=body, headers=headers)
    assert status == 201, reply
    assert reply["attachment"]["name"] == stored
    assert all("/" not in entry[3:] for entry in attachment_files(files_dir))
