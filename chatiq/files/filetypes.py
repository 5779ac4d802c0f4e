"""What an uploaded file really is, decided from its bytes, and the safe name it is stored under.

Pure (no aiohttp, no database): the client's file name and Content-Type are only labels.
"""

from __future__ import annotations

import codecs
import unicodedata
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from chatiq.files import images


@dataclass(frozen=True)
class FileType:
    ext: str                       # canonical extension, also the allowlist's name for it
    mime: str
    extensions: tuple[str, ...]    # names that honestly describe this content
    label: str
    image_format: str | None = None  # Pillow's format name for raster images

    @property
    def inline(self) -> bool:
        """Only raster images are shown in the browser; everything else downloads."""
        return self.image_format is not None


PNG = FileType("png", "image/png", ("png",), "a PNG image", "PNG")
JPEG = FileType("jpg", "image/jpeg", ("jpg", "jpeg", "jpe", "jfif"), "a JPEG image", "JPEG")
GIF = FileType("gif", "image/gif", ("gif",), "a GIF image", "GIF")
WEBP = FileType("webp", "image/webp", ("webp",), "a WebP image", "WEBP")
PDF = FileType("pdf", "application/pdf", ("pdf",), "a PDF document")
DOCX = FileType("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                ("docx",), "a Word document")
XLSX = FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ("xlsx",), "an Excel workbook")
PPTX = FileType("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                ("pptx",), "a PowerPoint presentation")
ZIP = FileType("zip", "application/zip", ("zip",), "a zip archive")
TXT = FileType("txt", "text/plain", ("txt", "text", "log", "md"), "plain text")
CSV = FileType("csv", "text/csv", ("csv",), "CSV text")

TYPES = (PNG, JPEG, GIF, WEBP, PDF, DOCX, XLSX, PPTX, ZIP, TXT, CSV)
BY_MIME = {t.mime: t for t in TYPES}
DEFAULT_ALLOWED = tuple(t.ext for t in TYPES)

# Browsers run these as pages (scripts on our origin), whatever headers we send.
NEVER_EXTENSIONS = frozenset({"html", "htm", "xhtml", "xht", "shtml", "svg", "svgz", "xml",
                              "xsl", "xslt", "mht", "mhtml", "hta"})
_KNOWN_EXTENSIONS = {ext: t for t in TYPES for ext in t.extensions}

# The start of a page or vector image: refused as text, and a sign of a polyglot
# when found in a binary file's first bytes (old browsers sniffed there).
_MARKUP = (b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml",
           b"<iframe", b"<object", b"<embed", b"<meta", b"<xml", b"<img")
_EXECUTABLE = ((b"MZ", "a Windows executable"), (b"\x7fELF", "a Linux executable"),
               (b"\xca\xfe\xba\xbe", "a Mach-O or Java class file"),
               (b"\xcf\xfa\xed\xfe", "a macOS executable"), (b"\xce\xfa\xed\xfe", "a macOS executable"),
               (b"#!", "a script"), (b"\x00asm", "a WebAssembly module"))
_ZIP_END = b"PK\x05\x06"

# Zip bombs: refuse archives that would unpack far beyond what was uploaded.
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_UNPACKED = 1024 * 1024 * 1024
MAX_ZIP_RATIO = 100
NAME_MAX_BYTES = 200


class Refused(Exception):
    """The upload is not accepted; `code` is the API error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Verdict:
    type: FileType
    name: str


def inspect(path: Path, client_name: str | None,
            allowed: Collection[str] = DEFAULT_ALLOWED) -> Verdict:
    """The file's real type and a safe name for it, or Refused."""
    size = path.stat().st_size
    if size == 0:
        raise Refused("invalid", "the file is empty")
    with path.open("rb") as fh:
        head = fh.read(4096)
        fh.seek(max(0, size - 65_557))  # the zip end record sits in the last 64 KiB + 22
        tail = fh.read()
    ftype = _sniff(path, head, tail, size)
    if ftype is TXT and _extension(client_name or "") == "csv":
        ftype = CSV
    if ftype.ext not in allowed:
        raise Refused("unsupported_type", f"{ftype.label} is not accepted here")
    return Verdict(ftype, safe_name(client_name, ftype))


def _sniff(path: Path, head: bytes, tail: bytes, size: int) -> FileType:
    for magic, what in _EXECUTABLE:
        if head.startswith(magic):
            raise Refused("unsupported_type", f"the file is {what}; executables are not accepted")
    if head.startswith((b"PK\x03\x04", _ZIP_END)):
        return _zip_type(path)
    binary = _binary_type(head)
    if binary is None:
        return _text_type(path, head)
    if _ZIP_END in tail:
        raise Refused("unsupported_type", f"the file is {binary.label} with a zip archive inside")
    lowered = head[:1024].lower()
    if any(tag in lowered for tag in _MARKUP):
        raise Refused("unsupported_type", f"the file is {binary.label} with HTML inside")
    if binary.image_format is not None:
        _check_image_end(binary, head, tail, size)
        try:
            images.check(path, binary.image_format)
        except images.BadImage as exc:
            raise Refused(exc.code, exc.message) from None
    elif binary is PDF and b"%%EOF" not in tail[-1024:]:
        raise Refused("unsupported_type", "the PDF is damaged or has something appended")
    return binary


def _binary_type(head: bytes) -> FileType | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def _check_image_end(ftype: FileType, head: bytes, tail: bytes, size: int) -> None:
    """Bytes after the image's end are how image/archive and image/script polyglots are made."""
    if ftype is PNG:
        ok = tail.endswith(b"IEND\xaeB`\x82")
    elif ftype is JPEG:
        ok = tail.rstrip(b"\x00").endswith(b"\xff\xd9")
    elif ftype is GIF:
        ok = tail.endswith(b";")
    else:  # WebP: the RIFF header's length covers the whole file
        ok = int.from_bytes(head[4:8], "little") + 8 == size
    if not ok:
        raise Refused("unsupported_type", f"the file is {ftype.label} with data after its end")


def _zip_type(path: Path) -> FileType:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise Refused("unsupported_type", "the archive has too many entries")
            unpacked = 0
            for entry in entries:
                unpacked += entry.file_size
                ratio = entry.file_size / max(entry.compress_size, 1)
                if unpacked > MAX_ZIP_UNPACKED or (ratio > MAX_ZIP_RATIO and entry.file_size > 1 << 20):
                    raise Refused("unsupported_type",
                                  "the archive unpacks to far more than its size (a zip bomb?)")
            names = {entry.filename for entry in entries}
            return _office_type(archive, names) or ZIP
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError,
            EOFError):
        raise Refused("unsupported_type", "the file looks like a zip archive but is damaged") from None


_OFFICE = ((DOCX, "word/document.xml", b"wordprocessingml.document.main+xml"),
           (XLSX, "xl/workbook.xml", b"spreadsheetml.sheet.main+xml"),
           (PPTX, "ppt/presentation.xml", b"presentationml.presentation.main+xml"))


def _office_type(archive: zipfile.ZipFile, names: set[str]) -> FileType | None:
    """docx/xlsx/pptx: a zip whose [Content_Types].xml declares the matching main part."""
    if "[Content_Types].xml" not in names:
        return None
    info = archive.getinfo("[Content_Types].xml")
    if info.file_size > 1 << 20:
        return None
    content_types = archive.read(info)
    for ftype, main_part, declared in _OFFICE:
        if main_part in names and declared in content_types:
            return ftype
    return None


def _text_type(path: Path, head: bytes) -> FileType:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 16):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError:
                raise Refused("unsupported_type", "unknown file type (not one of the accepted kinds)") from None
            if any(ch in text for ch in _BINARY_CONTROLS):
                raise Refused("unsupported_type", "unknown file type (binary data)")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise Refused("unsupported_type", "unknown file type (not one of the accepted kinds)") from None
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith(_MARKUP) or b"<script" in head.lower():
        raise Refused("unsupported_type", "HTML, SVG and XML files are not accepted")
    return TXT


# C0 controls other than tab, newline, carriage return and form feed; NUL first.
_BINARY_CONTROLS = frozenset(chr(c) for c in range(32) if chr(c) not in "\t\n\r\f") | {"\x7f"}


def safe_name(raw: str | None, ftype: FileType) -> str:
    """A file name that is only a label: no directories, controls or bidi tricks, bounded,
    and ending in an extension that tells the truth about the content.

    Refuses names that claim another kind of file (a zip named image.png), and HTML/SVG names.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Category C: controls (NUL included), format characters such as U+202E
    # (right-to-left override: "gpj.exe" shown as "exe.jpg"), surrogates, unassigned.
    name = "".join("_" if ch in '<>:"|?*' else ch for ch in name
                   if not unicodedata.category(ch).startswith("C"))
    name = " ".join(name.split()).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ext.lower()
    if ext in NEVER_EXTENSIONS:
        raise Refused("unsupported_type", f".{ext} files are not accepted")
    claimed = _KNOWN_EXTENSIONS.get(ext)
    if claimed is ftype:
        pass
    elif claimed is not None and claimed.image_format and ftype.image_format:
        ext = ftype.ext  # a JPEG saved as .png: same kind of thing, name fixed
    elif claimed is not None:
        raise Refused("unsupported_type", f"the file is {ftype.label} but its name says .{ext}")
    else:
        stem, ext = name, ftype.ext
    stem = _truncate(stem.strip(" ."), NAME_MAX_BYTES - len(ext) - 1) or "file"
    return f"{stem}.{ext}"


def _extension(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rpartition(".")[2].lower().strip() if "." in base else ""


def _truncate(text: str, max_bytes: int) -> str:
    while len(text.encode()) > max_bytes:
        text = text[:-1]
    return text.rstrip(" .")
