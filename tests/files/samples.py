"""Files to upload, good and bad, built in memory; and helpers that drive uploads as clients do."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import aiohttp
from PIL import Image


def png(size=(640, 480), color=(200, 30, 30), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(size=(1200, 900)) -> bytes:
    """A photo carrying EXIF (camera, GPS position, orientation): what a preview must drop."""
    image = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"          # Make
    exif[0x0112] = 6                 # Orientation: rotate 90°
    exif[0x8825] = {1: "N", 2: (50.0, 27.0, 0.0), 3: "E", 4: (30.0, 31.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (40, 30), 3).save(out, "GIF")
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), (0, 200, 0)).save(out, "WEBP")
    return out.getvalue()


PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

_OFFICE = {
    "docx": ("word/document.xml", "wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", "spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/presentation.xml", "presentationml.presentation.main+xml"),
}


def office(kind: str) -> bytes:
    part, declared = _OFFICE[kind]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types><Override PartName="/' + part + '" ContentType='
                   '"application/vnd.openxmlformats-officedocument.' + declared + '"/></Types>')
        z.writestr(part, "<doc/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("notes/readme.txt", "hello " * 100)
    return out.getvalue()


def zip_bomb() -> bytes:
    """~40 KB that unpacks to 40 MB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("zeros.bin", b"\0" * (40 * 1024 * 1024))
    return out.getvalue()


MZ = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\0" * 200 + b"This program cannot be run in DOS mode"
ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 300


def png_zip_polyglot() -> bytes:
    """A valid PNG with a zip archive appended: opens as an image and as an archive."""
    return png((20, 20)) + plain_zip()


def gif_html_polyglot() -> bytes:
    """GIF header, then a script: the classic GIFAR/'image that is a page' trick."""
    return b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00;*/=1;<script>alert(document.cookie)</script>"


def attachment_files(files_dir: Path) -> list[str]:
    """Everything under the files dir, relative, sorted: for asserting what landed on disk."""
    if not files_dir.exists():
        return []
    return sorted(str(p.relative_to(files_dir)) for p in files_dir.rglob("*") if p.is_file())


def form(content: bytes, filename: str | None, content_type: str = "image/png",
         **fields: str) -> aiohttp.FormData:
    # Unquoted, as browsers send it: raw UTF-8 in filename="…".
    data = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        data.add_field(name, value)
    data.add_field("file", content, filename=filename, content_type=content_type)
    return data


class Uploads:
    """A site with its owner and one visitor on the widget socket."""

    def __init__(self, chat):
        self.chat = chat

    async def setup(self, **site_fields) -> "Uploads":
        self.owner_token, self.owner = await self.chat.register()
        self.site = await self.chat.create_site(self.owner_token, **site_fields)
        self.visitor = await self.chat.visitor_ws(self.site["siteKey"])
        self.visitor_token = self.visitor.session["visitorToken"]
        return self

    def visitor_fields(self, visitor=None) -> dict:
        token = visitor.session["visitorToken"] if visitor else self.visitor_token
        return {"siteKey": self.site["siteKey"], "visitorToken": token}

    async def as_visitor(self, content: bytes, filename: str | None = "file.bin", visitor=None,
                         headers=None, **extra):
        data = form(content, filename, **self.visitor_fields(visitor), **extra)
        return await self.chat.call("POST", "/api/v1/uploads", data=data, headers=headers or {})

    async def as_operator(self, content: bytes, filename: str, chat_id: str, token=None):
        data = form(content, filename, chatId=chat_id)
        return await self.chat.call("POST", "/api/v1/uploads", token or self.owner_token, data=data)

    async def open_chat(self) -> str:
        """The visitor says hello so a chat exists; its id."""
        message = await self.chat.say(self.visitor, "hello")
        return message["chatId"]

    def visitor_url(self, url: str, visitor=None) -> str:
        token = visitor.session["visitorToken"] if visitor else self.visitor_token
        return f"{url}?t={token}&k={self.site['siteKey']}"

    async def fetch(self, url: str, token: str | None = None, headers=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.chat.session.get(self.chat.base + url, headers=headers) as resp:
            return resp.status, resp.headers, await resp.read()


def client_id() -> str:
    return uuid.uuid4().hex


def raw_form(fields: dict[str, str], filename: bytes, content: bytes,
             boundary: str = "rawboundary7MA4YWxk") -> tuple[bytes, dict]:
    """A multipart body written by hand, for file names no well-behaved client would send."""
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
             .encode() for name, value in fields.items()]
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
                 .encode() + filename + b"\"\r\nContent-Type: image/png\r\n\r\n" + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
